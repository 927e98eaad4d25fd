import { Button, Empty, Table, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { EditOutlined, PlusOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { ProblemAlert } from "../ui/ProblemAlert";

/** One section of the client page: its add button (when the person may), its rows, and an empty
 * state saying what belongs here. */
export function SectionTable<T extends { id?: number }>({
  label,
  rows,
  columns,
  loading,
  error,
  onRetry,
  addText,
  onAdd,
  onEdit,
  editLabel,
  empty,
  emptyHint,
}: {
  label: string;
  rows: T[];
  columns: ColumnsType<T>;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  addText: string;
  onAdd?: () => void;
  onEdit?: (row: T) => void;
  editLabel: (row: T) => string;
  empty: string;
  emptyHint: string;
}) {
  const { t } = useTranslation("clients");
  const withEdit: ColumnsType<T> = onEdit
    ? [
        ...columns,
        {
          title: <span className="sr-only">{t("records.actions")}</span>,
          key: "edit",
          width: 60,
          render: (_: unknown, row: T) => (
            <Button type="text" icon={<EditOutlined aria-hidden />} aria-label={editLabel(row)} onClick={() => onEdit(row)} />
          ),
        },
      ]
    : columns;
  return (
    <section aria-label={label}>
      {onAdd && (
        <div className="section-actions">
          <Button icon={<PlusOutlined aria-hidden />} onClick={onAdd}>{addText}</Button>
        </div>
      )}
      {error ? <ProblemAlert error={error} onRetry={onRetry} /> : null}
      <Table<T>
        aria-label={label}
        rowKey="id"
        size="small"
        columns={withEdit}
        dataSource={rows}
        loading={loading}
        pagination={rows.length > 10 ? { pageSize: 10, showSizeChanger: false } : false}
        locale={{
          emptyText: (
            <Empty
              description={
                <>
                  <div>{empty}</div>
                  <Typography.Text type="secondary">{emptyHint}</Typography.Text>
                </>
              }
            />
          ),
        }}
      />
    </section>
  );
}
