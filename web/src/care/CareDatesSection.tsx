import { useState } from "react";
import { Button, Form, Input, InputNumber, Popconfirm, Select, Space, Typography, message } from "antd";
import { DeleteOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { useRecords, type Contact } from "../clients/clientsApi";
import { RecordModal } from "../clients/RecordModal";
import { SectionTable } from "../clients/SectionTable";
import { formatDate } from "../ui/format";
import { problemText } from "../ui/problemText";
import { useCareOccasions, useDeleteCareDate, type CareDate } from "./careApi";

const KINDS = ["birthday", "founding_anniversary", "engagement_anniversary", "custom"] as const;

interface CareDateValues {
  kind: (typeof KINDS)[number];
  contact_id?: number | null;
  label?: string;
  calendar: "gregorian" | "lunar";
  month: number;
  day: number;
  year?: number | null;
}

/** The client's care dates (birthdays, anniversaries, custom dates, Gregorian or lunar) with the next
 * date each falls on, and its coming holidays. */
export function CareDatesSection({ clientId, canWrite }: { clientId: number; canWrite: boolean }) {
  const { t } = useTranslation("care");
  const dates = useRecords<CareDate>(clientId, "care-dates");
  const contacts = useRecords<Contact>(clientId, "contacts");
  const occasions = useCareOccasions(clientId);
  const remove = useDeleteCareDate(clientId);
  const [adding, setAdding] = useState(false);
  const contactName = (id?: number | null) => contacts.data?.items.find((c) => c.id === id)?.name;
  const nextDate = (row: CareDate) => occasions.data?.items.find((o) => o.key === `care_date:${row.id}`)?.date;
  const holidays = (occasions.data?.items ?? []).filter((o) => o.kind === "holiday");

  return (
    <>
      <SectionTable<CareDate>
        label={t("section")}
        rows={dates.data?.items ?? []}
        loading={dates.isPending}
        error={dates.error}
        onRetry={() => void dates.refetch()}
        addText={t("add")}
        onAdd={canWrite ? () => setAdding(true) : undefined}
        editLabel={() => ""}
        empty={t("empty")}
        emptyHint={t("emptyHint")}
        columns={[
          {
            title: t("kind"),
            dataIndex: "kind",
            render: (kind: string, row) => row.label || t(`kinds.${kind}`, { defaultValue: kind }),
          },
          { title: t("whose"), dataIndex: "contact_id", render: (id: number | null) => contactName(id) ?? t("theClient") },
          {
            title: t("date"),
            key: "date",
            render: (_: unknown, row) =>
              row.calendar === "lunar"
                ? t("lunarDate", { month: row.month, day: row.day })
                : t("gregorianDate", { month: row.month, day: row.day }),
          },
          {
            title: t("next"),
            key: "next",
            render: (_: unknown, row) => {
              const next = nextDate(row);
              return next ? formatDate(next) : <Typography.Text type="secondary">{t("notCared")}</Typography.Text>;
            },
          },
          ...(canWrite
            ? [
                {
                  title: <span className="sr-only">{t("actions")}</span>,
                  key: "delete",
                  width: 60,
                  render: (_: unknown, row: CareDate) => (
                    <Popconfirm
                      title={t("deleteConfirm")}
                      okText={t("delete")}
                      cancelText={t("cancel")}
                      onConfirm={() =>
                        remove.mutate(row.id!, {
                          onSuccess: () => void message.success(t("deleted")),
                          onError: (error) => void message.error(problemText(error)),
                        })
                      }
                    >
                      <Button type="text" icon={<DeleteOutlined aria-hidden />} aria-label={t("deleteNamed", { name: t(`kinds.${row.kind}`) })} />
                    </Popconfirm>
                  ),
                },
              ]
            : []),
        ]}
      />
      {holidays.length > 0 && (
        <Space wrap style={{ marginTop: 12 }} aria-label={t("holidays")}>
          <Typography.Text type="secondary">{t("holidaysLabel")}</Typography.Text>
          {holidays.map((o) => (
            <Typography.Text key={o.key}>
              {t(`holidayNames.${o.holiday}`, { defaultValue: o.holiday ?? "" })} {formatDate(o.date)}
            </Typography.Text>
          ))}
        </Space>
      )}
      {adding && (
        <RecordModal<CareDateValues>
          clientId={clientId}
          kind="care-dates"
          title={t("addTitle")}
          savedText={t("saved")}
          initialValues={{ kind: "birthday", calendar: "gregorian" }}
          toBody={(values) => ({
            kind: values.kind,
            contact_id: values.contact_id ?? null,
            label: values.label?.trim() || null,
            calendar: values.calendar,
            month: values.month,
            day: values.day,
            year: values.year ?? null,
          })}
          onClose={() => setAdding(false)}
        >
          <Form.Item name="kind" label={t("kind")} rules={[{ required: true }]}>
            <Select options={KINDS.map((kind) => ({ value: kind, label: t(`kinds.${kind}`) }))} />
          </Form.Item>
          <Form.Item name="contact_id" label={t("whose")} extra={t("whoseHint")}>
            <Select
              allowClear
              placeholder={t("theClient")}
              options={(contacts.data?.items ?? []).map((c) => ({ value: c.id, label: c.name }))}
            />
          </Form.Item>
          <Form.Item name="label" label={t("label")}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="calendar" label={t("calendar")} rules={[{ required: true }]}>
            <Select
              options={[
                { value: "gregorian", label: t("calendars.gregorian") },
                { value: "lunar", label: t("calendars.lunar") },
              ]}
            />
          </Form.Item>
          <Space>
            <Form.Item name="month" label={t("month")} rules={[{ required: true, message: t("required") }]}>
              <InputNumber min={1} max={12} />
            </Form.Item>
            <Form.Item name="day" label={t("day")} rules={[{ required: true, message: t("required") }]}>
              <InputNumber min={1} max={31} />
            </Form.Item>
            <Form.Item name="year" label={t("year")}>
              <InputNumber min={1800} max={2200} />
            </Form.Item>
          </Space>
        </RecordModal>
      )}
    </>
  );
}
