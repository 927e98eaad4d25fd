import { useState } from "react";
import { Alert, Form, Input, Select, Tag } from "antd";
import { useTranslation } from "react-i18next";
import { MAIL_LANGUAGES, useOptOuts, useRecords, type Contact } from "./clientsApi";
import { RecordModal } from "./RecordModal";
import { SectionTable } from "./SectionTable";

interface ContactValues {
  name: string;
  role?: string;
  phones: string[];
  emails: string[];
  notes?: string;
  locale?: string | null;
}

export function ContactsSection({ clientId, canWrite }: { clientId: number; canWrite: boolean }) {
  const { t } = useTranslation("clients");
  const records = useRecords<Contact>(clientId, "contacts");
  const [editing, setEditing] = useState<Contact | "new" | null>(null);
  const current = editing === "new" ? undefined : editing ?? undefined;
  const optOuts = useOptOuts(clientId).data?.items ?? [];
  const topicsOf = (contactId: number | null) =>
    optOuts.filter((row) => row.contact_id === contactId).map((row) => t(`mail.topics.${row.topic}`));
  const wholeClient = topicsOf(null);
  return (
    <>
      {wholeClient.length > 0 && (
        <Alert type="info" showIcon className="section-alert" message={t("mail.optedOutWhole", { topics: wholeClient.join("、") })} />
      )}
      <SectionTable<Contact>
        label={t("page.contacts")}
        rows={records.data?.items ?? []}
        loading={records.isPending}
        error={records.error}
        onRetry={() => void records.refetch()}
        addText={t("contact.add")}
        onAdd={canWrite ? () => setEditing("new") : undefined}
        onEdit={canWrite ? setEditing : undefined}
        editLabel={(row) => t("records.editNamed", { name: row.name })}
        empty={t("contact.empty")}
        emptyHint={t("contact.emptyHint")}
        columns={[
          { title: t("contact.name"), dataIndex: "name" },
          { title: t("contact.role"), dataIndex: "role", render: (value) => value || "—" },
          {
            title: t("contact.phones"),
            dataIndex: "phones",
            render: (phones: string[] = []) => phones.map((phone) => <div key={phone}><a href={`tel:${phone}`}>{phone}</a></div>),
          },
          {
            title: t("contact.emails"),
            dataIndex: "emails",
            responsive: ["md"],
            render: (emails: string[] = []) => emails.map((email) => <div key={email}><a href={`mailto:${email}`}>{email}</a></div>),
          },
          {
            title: t("mail.optedOut"),
            key: "mail",
            responsive: ["lg"],
            render: (_, row) => (
              <>
                {row.locale && <Tag>{t(`mail.languages.${row.locale}`)}</Tag>}
                {topicsOf(row.id ?? null).map((topic) => <Tag key={topic} color="orange">{topic}</Tag>)}
              </>
            ),
          },
        ]}
      />
      {editing && (
        <RecordModal<ContactValues>
          clientId={clientId}
          kind="contacts"
          recordId={current?.id}
          title={t(current ? "contact.editTitle" : "contact.addTitle")}
          savedText={t("records.saved")}
          listFields={["phones", "emails"]}
          initialValues={{
            name: current?.name ?? "",
            role: current?.role ?? undefined,
            phones: current?.phones ?? [],
            emails: current?.emails ?? [],
            notes: current?.notes ?? undefined,
            locale: current?.locale ?? null,
          }}
          toBody={(values) => ({
            name: values.name.trim(),
            role: values.role?.trim() || null,
            phones: values.phones ?? [],
            emails: values.emails ?? [],
            notes: values.notes?.trim() || null,
            locale: values.locale ?? null,
          })}
          onClose={() => setEditing(null)}
        >
          <Form.Item name="name" label={t("contact.name")} rules={[{ required: true, whitespace: true, message: t("contact.nameRequired") }]}>
            <Input maxLength={300} autoFocus />
          </Form.Item>
          <Form.Item name="role" label={t("contact.role")}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="phones" label={t("contact.phones")} extra={t("edit.typeToAdd")}>
            <Select mode="tags" open={false} suffixIcon={null} tokenSeparators={[",", "，", ";"]} />
          </Form.Item>
          <Form.Item name="emails" label={t("contact.emails")} extra={t("edit.typeToAdd")}>
            <Select mode="tags" open={false} suffixIcon={null} tokenSeparators={[",", "，", ";", " "]} />
          </Form.Item>
          <Form.Item name="locale" label={t("mail.language")} extra={t("mail.languageHint")}>
            <Select
              options={[
                { value: null, label: t("mail.sameAsClient") },
                ...MAIL_LANGUAGES.map((locale) => ({ value: locale, label: t(`mail.languages.${locale}`) })),
              ]}
            />
          </Form.Item>
          <Form.Item name="notes" label={t("contact.notes")}>
            <Input.TextArea rows={3} maxLength={20000} />
          </Form.Item>
        </RecordModal>
      )}
    </>
  );
}
