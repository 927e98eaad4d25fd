import { useState } from "react";
import { Form, Input, Rate, Select, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { formatDateTime } from "../ui/format";
import { useRecords, type Complaint } from "./clientsApi";
import { RecordModal } from "./RecordModal";
import { SectionTable } from "./SectionTable";

const SEVERITIES = ["low", "medium", "high", "critical"] as const;
const SEVERITY_COLOURS: Record<string, string> = { low: "default", medium: "blue", high: "orange", critical: "red" };

interface ComplaintValues {
  description: string;
  severity: string;
}

/** "Record a complaint": recording it starts the complaint process on the server. */
export function NewComplaintModal({ clientId, clientName, onClose }: { clientId: number; clientName: string; onClose: () => void }) {
  const { t } = useTranslation("clients");
  return (
    <RecordModal<ComplaintValues>
      clientId={clientId}
      kind="complaints"
      title={t("complaint.addTitle", { client: clientName })}
      okText={t("complaint.add")}
      savedText={t("complaint.created")}
      confirm={{ title: t("complaint.confirmTitle"), content: t("complaint.confirmBody"), okText: t("complaint.add") }}
      initialValues={{ description: "", severity: "medium" }}
      toBody={(values) => ({ description: values.description.trim(), severity: values.severity })}
      onClose={onClose}
    >
      <ComplaintFields />
    </RecordModal>
  );
}

function ComplaintFields() {
  const { t } = useTranslation("clients");
  return (
    <>
      <Form.Item name="description" label={t("complaint.description")} rules={[{ required: true, whitespace: true, message: t("complaint.descriptionRequired") }]}>
        <Input.TextArea rows={4} maxLength={20000} autoFocus />
      </Form.Item>
      <Form.Item name="severity" label={t("complaint.severity")}>
        <Select options={SEVERITIES.map((value) => ({ value, label: t(`complaint.severities.${value}`) }))} />
      </Form.Item>
    </>
  );
}

export function ComplaintsSection({ clientId, canWrite, onAdd }: { clientId: number; canWrite: boolean; onAdd: () => void }) {
  const { t } = useTranslation("clients");
  const records = useRecords<Complaint>(clientId, "complaints");
  const [editing, setEditing] = useState<Complaint | null>(null);
  return (
    <>
      <SectionTable<Complaint>
        label={t("page.complaints")}
        rows={records.data?.items ?? []}
        loading={records.isPending}
        error={records.error}
        onRetry={() => void records.refetch()}
        addText={t("complaint.add")}
        onAdd={canWrite ? onAdd : undefined}
        onEdit={canWrite ? setEditing : undefined}
        editLabel={(row) => t("records.editNamed", { name: formatDateTime(row.received_at) })}
        empty={t("complaint.empty")}
        emptyHint={t("complaint.emptyHint")}
        columns={[
          {
            title: t("complaint.description"),
            dataIndex: "description",
            render: (text: string) => <Typography.Paragraph ellipsis={{ rows: 2, tooltip: text }} style={{ margin: 0, maxWidth: 360 }}>{text}</Typography.Paragraph>,
          },
          {
            title: t("complaint.severity"),
            dataIndex: "severity",
            render: (value: string) => <Tag color={SEVERITY_COLOURS[value]}>{t(`complaint.severities.${value}`, { defaultValue: value })}</Tag>,
          },
          {
            title: t("complaint.status"),
            dataIndex: "status",
            render: (status: string, row) => (
              <>
                <Tag>{t(`complaint.statuses.${status}`, { defaultValue: status })}</Tag>
                {row.escalated_at && <Tag color="red">{t("complaint.escalated", { who: row.escalated_to ?? "" })}</Tag>}
              </>
            ),
          },
          { title: t("complaint.received"), dataIndex: "received_at", responsive: ["sm"], render: (value) => formatDateTime(value) },
          {
            title: t("complaint.satisfaction"),
            dataIndex: "satisfaction",
            responsive: ["md"],
            render: (value: number | null) =>
              value ? (
                <span className="rating-stars" role="img" aria-label={t("serviceRequest.ratingLabel", { rating: value })}>
                  <Rate disabled value={value} style={{ fontSize: 14 }} />
                </span>
              ) : (
                "—"
              ),
          },
        ]}
      />
      {editing && (
        <RecordModal<ComplaintValues>
          clientId={clientId}
          kind="complaints"
          recordId={editing.id}
          title={t("complaint.editTitle")}
          savedText={t("records.saved")}
          initialValues={{ description: editing.description, severity: editing.severity ?? "medium" }}
          toBody={(values) => ({ description: values.description.trim(), severity: values.severity })}
          onClose={() => setEditing(null)}
        >
          <ComplaintFields />
        </RecordModal>
      )}
    </>
  );
}
