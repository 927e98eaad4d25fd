import { useState } from "react";
import { DatePicker, Form, Input, InputNumber, Select, Tag } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useTranslation } from "react-i18next";
import { formatDate, formatMoney } from "../ui/format";
import { useRecords, type Engagement } from "./clientsApi";
import { RecordModal } from "./RecordModal";
import { SectionTable } from "./SectionTable";

const STATUSES = ["proposed", "active", "completed", "cancelled"] as const;
const BASES = ["fixed", "hourly", "retainer", "contingency", "pro_bono"] as const;
const COLOURS: Record<string, string> = { proposed: "blue", active: "green", completed: "default", cancelled: "red" };

interface EngagementValues {
  service_type: string;
  status: string;
  fee_basis: string;
  fee_amount?: number | null;
  start_date?: Dayjs | null;
  end_date?: Dayjs | null;
  responsible?: string;
  description?: string;
  adverse_parties: string[];
}

const day = (value?: string | null) => (value ? dayjs(value) : null);
const isoDay = (value?: Dayjs | null) => (value ? value.format("YYYY-MM-DD") : null);

export function EngagementsSection({ clientId, canWrite }: { clientId: number; canWrite: boolean }) {
  const { t } = useTranslation("clients");
  const records = useRecords<Engagement>(clientId, "engagements");
  const [editing, setEditing] = useState<Engagement | "new" | null>(null);
  const current = editing === "new" ? undefined : editing ?? undefined;
  return (
    <>
      <SectionTable<Engagement>
        label={t("page.engagements")}
        rows={records.data?.items ?? []}
        loading={records.isPending}
        error={records.error}
        onRetry={() => void records.refetch()}
        addText={t("engagement.add")}
        onAdd={canWrite ? () => setEditing("new") : undefined}
        onEdit={canWrite ? setEditing : undefined}
        editLabel={(row) => t("records.editNamed", { name: row.service_type })}
        empty={t("engagement.empty")}
        emptyHint={t("engagement.emptyHint")}
        columns={[
          { title: t("engagement.service_type"), dataIndex: "service_type" },
          {
            title: t("engagement.status"),
            dataIndex: "status",
            render: (status: string) => <Tag color={COLOURS[status]}>{t(`engagement.statuses.${status}`, { defaultValue: status })}</Tag>,
          },
          {
            title: t("engagement.fee_amount"),
            dataIndex: "fee_amount",
            render: (amount: number | null, row) =>
              `${formatMoney(amount)} · ${t(`engagement.bases.${row.fee_basis}`, { defaultValue: row.fee_basis })}`,
          },
          { title: t("engagement.start_date"), dataIndex: "start_date", responsive: ["md"], render: (value) => formatDate(value) },
          { title: t("engagement.responsible"), dataIndex: "responsible", responsive: ["md"], render: (value) => value || "—" },
        ]}
      />
      {editing && (
        <RecordModal<EngagementValues>
          clientId={clientId}
          kind="engagements"
          recordId={current?.id}
          title={t(current ? "engagement.editTitle" : "engagement.addTitle")}
          savedText={t("records.saved")}
          listFields={["adverse_parties"]}
          initialValues={{
            service_type: current?.service_type ?? "",
            status: current?.status ?? "proposed",
            fee_basis: current?.fee_basis ?? "fixed",
            fee_amount: current?.fee_amount ?? null,
            start_date: day(current?.start_date),
            end_date: day(current?.end_date),
            responsible: current?.responsible ?? undefined,
            description: current?.description ?? undefined,
            adverse_parties: current?.adverse_parties ?? [],
          }}
          toBody={(values) => ({
            service_type: values.service_type.trim(),
            status: values.status,
            fee_basis: values.fee_basis,
            fee_amount: values.fee_amount ?? null,
            start_date: isoDay(values.start_date),
            end_date: isoDay(values.end_date),
            responsible: values.responsible?.trim() || null,
            description: values.description?.trim() || null,
            adverse_parties: values.adverse_parties ?? [],
          })}
          onClose={() => setEditing(null)}
        >
          <Form.Item name="service_type" label={t("engagement.service_type")} rules={[{ required: true, whitespace: true, message: t("engagement.serviceRequired") }]}>
            <Input maxLength={100} autoFocus />
          </Form.Item>
          <Form.Item name="status" label={t("engagement.status")}>
            <Select options={STATUSES.map((value) => ({ value, label: t(`engagement.statuses.${value}`) }))} />
          </Form.Item>
          <Form.Item name="fee_basis" label={t("engagement.fee_basis")}>
            <Select options={BASES.map((value) => ({ value, label: t(`engagement.bases.${value}`) }))} />
          </Form.Item>
          <Form.Item name="fee_amount" label={t("engagement.fee_amount")}>
            <InputNumber min={0} step={100} prefix="¥" style={{ width: "100%" }} />
          </Form.Item>
          <Form.Item name="start_date" label={t("engagement.start_date")}>
            <DatePicker style={{ width: "100%" }} />
          </Form.Item>
          <Form.Item name="end_date" label={t("engagement.end_date")}>
            <DatePicker style={{ width: "100%" }} />
          </Form.Item>
          <Form.Item name="responsible" label={t("engagement.responsible")}>
            <Input maxLength={100} />
          </Form.Item>
          <Form.Item name="adverse_parties" label={t("engagement.adverse_parties")} extra={t("engagement.adverseHint")}>
            <Select mode="tags" open={false} suffixIcon={null} tokenSeparators={[";", "；"]} />
          </Form.Item>
          <Form.Item name="description" label={t("engagement.description")}>
            <Input.TextArea rows={3} maxLength={20000} />
          </Form.Item>
        </RecordModal>
      )}
    </>
  );
}
