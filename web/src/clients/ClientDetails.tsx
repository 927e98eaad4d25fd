import { useState, type ReactNode } from "react";
import { Button, Descriptions, Tag, Typography } from "antd";
import { EyeOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { formatDateTime } from "../ui/format";
import type { Client } from "./clientsApi";
import { label } from "./labels";
import { RevealModal } from "./RevealModal";

type Address = Record<string, string | undefined>;

function addressLine(address: Address): string {
  return ["street", "city", "region", "postcode", "country"].map((part) => address[part]).filter(Boolean).join(", ");
}

function customValue(value: unknown): string {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

/** The client's own fields, as the 360 view's first card. A reader who sees contact data masked
 * (client.masked_fields) may reveal each masked field, giving a reason: the full value is shown in
 * place for as long as the page stays open. */
export function ClientDetails({ client }: { client: Client }) {
  const { t } = useTranslation("clients");
  const masked = new Set(client.masked_fields ?? []);
  const [revealed, setRevealed] = useState<Record<string, unknown>>({});
  const [asking, setAsking] = useState<{ field: string; label: string } | null>(null);
  const shown = <T,>(field: "phones" | "emails" | "addresses", value: T): T => (field in revealed ? (revealed[field] as T) : value);
  // A masked phone or email is no link: it would call or mail nobody.
  const hidden = (field: string) => masked.has(field) && !(field in revealed);
  const phones = shown("phones", client.phones);
  const emails = shown("emails", client.emails);
  const addresses = shown("addresses", client.addresses);
  const custom = Object.entries(client.custom_fields ?? {}).map(
    ([name, value]) => [name, name in revealed ? revealed[name] : value] as const,
  );

  /** The reveal action of a masked field, or the mark of one revealed; nothing for a field shown in full. */
  const revealAction = (field: string, fieldLabel: string): ReactNode => {
    if (field in revealed) return <Tag color="gold" className="revealed-tag">{t("reveal.revealed")}</Tag>;
    if (!masked.has(field)) return null;
    return (
      <Button
        type="link"
        size="small"
        className="reveal-button"
        icon={<EyeOutlined />}
        aria-label={t("reveal.action", { field: fieldLabel })}
        onClick={() => setAsking({ field, label: fieldLabel })}
      >
        {t("reveal.button")}
      </Button>
    );
  };
  const withAction = (field: string, fieldLabel: string, content: ReactNode): ReactNode => {
    const action = revealAction(field, fieldLabel);
    return action ? <div className="revealable"><div>{content}</div>{action}</div> : content;
  };

  return (
    <>
    {asking && (
      <RevealModal
        clientId={client.id!}
        field={asking.field}
        fieldLabel={asking.label}
        onRevealed={(field, value) => setRevealed((before) => ({ ...before, [field]: value }))}
        onClose={() => setAsking(null)}
      />
    )}
    <Descriptions
      className="client-details"
      bordered
      size="small"
      column={{ xs: 1, sm: 1, md: 2 }}
      title={<h2 className="card-title">{t("page.details")}</h2>}
      items={[
        { key: "kind", label: t("field.kind"), children: label(t, "kind", client.kind) },
        { key: "tier", label: t("field.tier"), children: label(t, "tier", client.tier) },
        { key: "status", label: t("field.status"), children: label(t, "status", client.status) },
        { key: "owner", label: t("field.owner"), children: client.owner || "—" },
        { key: "industry", label: t("field.industry"), children: client.industry || "—" },
        {
          key: "locale",
          label: t("mail.language"),
          children: client.locale ? t(`mail.languages.${client.locale}`) : t("mail.firmDefault"),
        },
        {
          key: "tags",
          label: t("field.tags"),
          children: client.tags?.length ? client.tags.map((tag) => <Tag key={tag}>{tag}</Tag>) : t("page.noTags"),
        },
        {
          key: "phones",
          label: t("field.phones"),
          children: withAction(
            "phones",
            t("field.phones"),
            phones?.length ? phones.map((phone) => <div key={phone}>{hidden("phones") ? phone : <a href={`tel:${phone}`}>{phone}</a>}</div>) : "—",
          ),
        },
        {
          key: "emails",
          label: t("field.emails"),
          children: withAction(
            "emails",
            t("field.emails"),
            emails?.length ? emails.map((email) => <div key={email}>{hidden("emails") ? email : <a href={`mailto:${email}`}>{email}</a>}</div>) : "—",
          ),
        },
        {
          key: "addresses",
          label: t("field.addresses"),
          span: 2,
          children: withAction(
            "addresses",
            t("field.addresses"),
            addresses?.length
              ? (addresses as Address[]).map((address, index) => (
                  <div key={index}>
                    {address.label && <Typography.Text strong>{address.label}: </Typography.Text>}
                    {addressLine(address)}
                  </div>
                ))
              : "—",
          ),
        },
        ...(custom.length
          ? [{
              key: "custom",
              label: t("field.customFields"),
              span: 2,
              children: custom.map(([name, value]) => (
                <div key={name}>{withAction(name, name, <>{name}: {customValue(value)}</>)}</div>
              )),
            }]
          : []),
        {
          key: "notes",
          label: t("field.notes"),
          span: 2,
          children: client.notes ? <Typography.Paragraph style={{ whiteSpace: "pre-wrap", margin: 0 }}>{client.notes}</Typography.Paragraph> : "—",
        },
        { key: "created", label: t("field.created"), children: `${formatDateTime(client.created_at)}${client.created_by ? ` · ${client.created_by}` : ""}` },
        { key: "updated", label: t("field.updated"), children: formatDateTime(client.updated_at) },
      ]}
    />
    </>
  );
}
