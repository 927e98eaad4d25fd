import { useState } from "react";
import { Form, Input, InputNumber, Rate, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { formatDateTime } from "../ui/format";
import { useRecords, type Feedback } from "./clientsApi";
import { RecordModal } from "./RecordModal";
import { SectionTable } from "./SectionTable";

interface FeedbackValues {
  csat?: number | null;
  nps?: number | null;
  comment?: string;
}

export function FeedbackSection({ clientId, canWrite }: { clientId: number; canWrite: boolean }) {
  const { t } = useTranslation("clients");
  const records = useRecords<Feedback>(clientId, "feedback");
  const [editing, setEditing] = useState<Feedback | "new" | null>(null);
  const current = editing === "new" ? undefined : editing ?? undefined;
  return (
    <>
      <SectionTable<Feedback>
        label={t("page.feedback")}
        rows={records.data?.items ?? []}
        loading={records.isPending}
        error={records.error}
        onRetry={() => void records.refetch()}
        addText={t("feedback.add")}
        onAdd={canWrite ? () => setEditing("new") : undefined}
        onEdit={canWrite ? setEditing : undefined}
        editLabel={(row) => t("records.editNamed", { name: formatDateTime(row.created_at) })}
        empty={t("feedback.empty")}
        emptyHint={t("feedback.emptyHint")}
        columns={[
          {
            title: t("feedback.csat"),
            dataIndex: "csat",
            render: (value: number | null) =>
              value ? (
                <span className="rating-stars" role="img" aria-label={t("serviceRequest.ratingLabel", { rating: value })}>
                  <Rate disabled value={value} style={{ fontSize: 14 }} />
                </span>
              ) : (
                "—"
              ),
          },
          { title: t("feedback.nps"), dataIndex: "nps", responsive: ["sm"], render: (value) => value ?? "—" },
          {
            title: t("feedback.comment"),
            dataIndex: "comment",
            render: (text: string | null) =>
              text ? <Typography.Paragraph ellipsis={{ rows: 2, tooltip: text }} style={{ margin: 0, maxWidth: 360 }}>{text}</Typography.Paragraph> : "—",
          },
          {
            title: t("feedback.about"),
            dataIndex: "subject_type",
            responsive: ["md"],
            render: (type: string | null, row) => (type ? `${t(`feedback.subjects.${type}`, { defaultValue: type })} #${row.subject_id}` : "—"),
          },
          { title: t("feedback.given"), dataIndex: "created_at", responsive: ["md"], render: (value) => formatDateTime(value) },
        ]}
      />
      {editing && (
        <RecordModal<FeedbackValues>
          clientId={clientId}
          kind="feedback"
          recordId={current?.id}
          title={t(current ? "feedback.editTitle" : "feedback.addTitle")}
          savedText={t("records.saved")}
          initialValues={{ csat: current?.csat ?? null, nps: current?.nps ?? null, comment: current?.comment ?? undefined }}
          toBody={(values) => ({ csat: values.csat || null, nps: values.nps ?? null, comment: values.comment?.trim() || null })}
          onClose={() => setEditing(null)}
        >
          <Form.Item name="csat" label={t("feedback.csat")}>
            <Rate aria-label={t("feedback.csat")} />
          </Form.Item>
          <Form.Item name="nps" label={t("feedback.nps")}>
            <InputNumber min={0} max={10} style={{ width: 120 }} />
          </Form.Item>
          <Form.Item name="comment" label={t("feedback.comment")}>
            <Input.TextArea rows={3} maxLength={20000} />
          </Form.Item>
        </RecordModal>
      )}
    </>
  );
}
