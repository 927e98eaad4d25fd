import { useState } from "react";
import { Form, Input, Progress, Rate, Select, Space, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { dueState, formatDateTime, formatDue } from "../ui/format";
import { useRecords, type ServiceRequest } from "./clientsApi";
import { RecordModal } from "./RecordModal";
import { SectionTable } from "./SectionTable";

const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
const PROGRESS: Record<string, number> = { new: 10, triaged: 30, assigned: 50, in_progress: 70, resolved: 90, closed: 100, cancelled: 100 };
const COLOURS: Record<string, string> = {
  new: "blue", triaged: "cyan", assigned: "geekblue", in_progress: "processing", resolved: "green", closed: "default", cancelled: "red",
};
const PRIORITY_COLOURS: Record<string, string> = { low: "default", normal: "blue", high: "orange", urgent: "red" };
const OPEN = new Set(["new", "triaged", "assigned", "in_progress"]);

interface NewValues {
  title: string;
  content?: string;
  type?: string;
  priority: string;
}

/** "New service request": recording it starts its process (the desk's triage) on the server. */
export function NewServiceRequestModal({ clientId, clientName, onClose }: { clientId: number; clientName: string; onClose: () => void }) {
  const { t } = useTranslation("clients");
  return (
    <RecordModal<NewValues>
      clientId={clientId}
      kind="service-requests"
      title={t("serviceRequest.addTitle", { client: clientName })}
      okText={t("serviceRequest.add")}
      savedText={t("serviceRequest.created")}
      confirm={{ title: t("serviceRequest.confirmTitle"), content: t("serviceRequest.confirmBody"), okText: t("serviceRequest.add") }}
      initialValues={{ title: "", priority: "normal" }}
      toBody={(values) => ({
        title: values.title.trim(),
        content: values.content?.trim() || null,
        type: values.type?.trim() || null,
        priority: values.priority,
      })}
      onClose={onClose}
    >
      <Form.Item name="title" label={t("serviceRequest.title")} rules={[{ required: true, whitespace: true, message: t("serviceRequest.titleRequired") }]}>
        <Input maxLength={300} autoFocus />
      </Form.Item>
      <Form.Item name="content" label={t("serviceRequest.content")}>
        <Input.TextArea rows={4} maxLength={20000} />
      </Form.Item>
      <Form.Item name="type" label={t("serviceRequest.type")}>
        <Input maxLength={100} placeholder={t("serviceRequest.typePlaceholder")} />
      </Form.Item>
      <Form.Item name="priority" label={t("serviceRequest.priority")}>
        <Select options={PRIORITIES.map((value) => ({ value, label: t(`serviceRequest.priorities.${value}`) }))} />
      </Form.Item>
    </RecordModal>
  );
}

export function ServiceRequestsSection({ clientId, canWrite, onAdd }: { clientId: number; canWrite: boolean; onAdd: () => void }) {
  const { t } = useTranslation("clients");
  const records = useRecords<ServiceRequest>(clientId, "service-requests");
  const [editing, setEditing] = useState<ServiceRequest | null>(null);
  return (
    <>
      <SectionTable<ServiceRequest>
        label={t("page.serviceRequests")}
        rows={records.data?.items ?? []}
        loading={records.isPending}
        error={records.error}
        onRetry={() => void records.refetch()}
        addText={t("serviceRequest.add")}
        onAdd={canWrite ? onAdd : undefined}
        onEdit={canWrite ? setEditing : undefined}
        editLabel={(row) => t("records.editNamed", { name: row.title })}
        empty={t("serviceRequest.empty")}
        emptyHint={t("serviceRequest.emptyHint")}
        columns={[
          {
            title: t("serviceRequest.title"),
            dataIndex: "title",
            render: (title: string, row) => (
              <>
                <div>{title}</div>
                {row.type && <Typography.Text type="secondary">{row.type}</Typography.Text>}
              </>
            ),
          },
          {
            title: t("serviceRequest.priority"),
            dataIndex: "priority",
            responsive: ["sm"],
            render: (value: string) => <Tag color={PRIORITY_COLOURS[value]}>{t(`serviceRequest.priorities.${value}`, { defaultValue: value })}</Tag>,
          },
          {
            title: t("serviceRequest.progress"),
            dataIndex: "status",
            render: (status: string) => {
              const text = t(`serviceRequest.statuses.${status}`, { defaultValue: status });
              return (
                <Space direction="vertical" size={0} className="sr-progress">
                  <Tag color={COLOURS[status]}>{text}</Tag>
                  <Progress
                    percent={PROGRESS[status] ?? 0}
                    size="small"
                    showInfo={false}
                    status={status === "cancelled" ? "exception" : status === "closed" ? "success" : "active"}
                    aria-label={`${t("serviceRequest.progress")}: ${text}`}
                  />
                </Space>
              );
            },
          },
          { title: t("serviceRequest.assignee"), dataIndex: "assignee", responsive: ["md"], render: (value) => value || "—" },
          {
            title: t("serviceRequest.sla"),
            dataIndex: "sla_due_at",
            responsive: ["md"],
            render: (due: string | null, row) =>
              due && OPEN.has(row.status ?? "") ? (
                <span className={`due-${dueState(due)}`} title={formatDateTime(due)}>{formatDue(due)}</span>
              ) : (
                formatDateTime(due)
              ),
          },
          {
            title: t("serviceRequest.rating"),
            dataIndex: "rating",
            render: (rating: number | null) =>
              rating ? (
                <span className="rating-stars" role="img" aria-label={t("serviceRequest.ratingLabel", { rating })}>
                  <Rate disabled value={rating} style={{ fontSize: 14 }} />
                </span>
              ) : (
                <Typography.Text type="secondary">{t("serviceRequest.notRated")}</Typography.Text>
              ),
          },
          { title: t("serviceRequest.received"), dataIndex: "created_at", responsive: ["lg"], render: (value) => formatDateTime(value) },
        ]}
      />
      {editing && (
        <RecordModal<{ title: string; content?: string }>
          clientId={clientId}
          kind="service-requests"
          recordId={editing.id}
          title={t("serviceRequest.editTitle")}
          savedText={t("records.saved")}
          initialValues={{ title: editing.title, content: editing.content ?? undefined }}
          toBody={(values) => ({ title: values.title.trim(), content: values.content?.trim() || null })}
          onClose={() => setEditing(null)}
        >
          <Form.Item name="title" label={t("serviceRequest.title")} rules={[{ required: true, whitespace: true, message: t("serviceRequest.titleRequired") }]}>
            <Input maxLength={300} autoFocus />
          </Form.Item>
          <Form.Item name="content" label={t("serviceRequest.content")}>
            <Input.TextArea rows={4} maxLength={20000} />
          </Form.Item>
        </RecordModal>
      )}
    </>
  );
}
