import { Descriptions, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { formatDateTime } from "../ui/format";
import type { Client } from "./clientsApi";
import { label } from "./labels";

type Address = Record<string, string | undefined>;

function addressLine(address: Address): string {
  return ["street", "city", "region", "postcode", "country"].map((part) => address[part]).filter(Boolean).join(", ");
}

/** The client's own fields, as the 360 view's first card. */
export function ClientDetails({ client }: { client: Client }) {
  const { t } = useTranslation("clients");
  const custom = Object.entries(client.custom_fields ?? {});
  return (
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
          key: "tags",
          label: t("field.tags"),
          children: client.tags?.length ? client.tags.map((tag) => <Tag key={tag}>{tag}</Tag>) : t("page.noTags"),
        },
        {
          key: "phones",
          label: t("field.phones"),
          children: client.phones?.length ? client.phones.map((phone) => <div key={phone}><a href={`tel:${phone}`}>{phone}</a></div>) : "—",
        },
        {
          key: "emails",
          label: t("field.emails"),
          children: client.emails?.length ? client.emails.map((email) => <div key={email}><a href={`mailto:${email}`}>{email}</a></div>) : "—",
        },
        {
          key: "addresses",
          label: t("field.addresses"),
          span: 2,
          children: client.addresses?.length
            ? (client.addresses as Address[]).map((address, index) => (
                <div key={index}>
                  {address.label && <Typography.Text strong>{address.label}: </Typography.Text>}
                  {addressLine(address)}
                </div>
              ))
            : "—",
        },
        ...(custom.length
          ? [{
              key: "custom",
              label: t("field.customFields"),
              span: 2,
              children: custom.map(([name, value]) => <div key={name}>{name}: {typeof value === "object" ? JSON.stringify(value) : String(value)}</div>),
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
  );
}
