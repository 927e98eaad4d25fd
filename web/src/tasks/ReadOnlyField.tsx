// A read-only form field (the request under review, a check's findings): shown as text,
// formatted for the reader, never as a greyed-out input.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { FieldProps } from "@rjsf/utils";
import { useTranslation } from "react-i18next";
import { formatDate, formatDateTime, formatMoney, formatNumber } from "../ui/format";
import { ChosenName } from "./pickers";
import { humanize } from "./formSchema";

const MONEY = /amount|fee|price|cost/i;



function Scalar({ value, schema, name, uiSchema }: { value: any; schema: any; name: string; uiSchema?: any }) {
  const { t } = useTranslation("tasks");
  if (value === undefined || value === null || value === "") return <span className="ro-empty">{t("form.empty")}</span>;
  if (schema?.format === "atrium-client" || schema?.format === "atrium-user") {
    return <ChosenName kind={schema.format === "atrium-client" ? "client" : "user"} value={value} />;
  }
  if (Array.isArray(schema?.enum)) {
    const names = uiSchema?.["ui:enumNames"];
    const index = schema.enum.indexOf(value);
    if (index >= 0 && Array.isArray(names) && names[index]) return <>{names[index]}</>;
  }
  if (typeof value === "boolean") return <>{value ? t("form.yes") : t("form.no")}</>;
  if (typeof value === "number") return <>{MONEY.test(name) ? formatMoney(value) : formatNumber(value)}</>;
  if (schema?.format === "date") return <>{formatDate(value)}</>;
  if (schema?.format === "date-time") return <>{formatDateTime(value)}</>;
  if (typeof value === "object") return <Value value={value} schema={schema} name={name} />;
  return <span className="ro-text">{String(value)}</span>;
}

function Value({ value, schema, name, uiSchema }: { value: any; schema: any; name: string; uiSchema?: any }) {
  const { t } = useTranslation("tasks");
  if (Array.isArray(value)) {
    if (!value.length) return <span className="ro-empty">{t("form.none")}</span>;
    return (
      <ul className="ro-list">
        {value.map((item, index) => <li key={index}><Value value={item} schema={schema?.items} name={name} /></li>)}
      </ul>
    );
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, item]) => item !== null && item !== undefined && item !== "");
    if (!entries.length) return <span className="ro-empty">{t("form.none")}</span>;
    return (
      <dl className="ro-object">
        {entries.map(([key, item]) => (
          <div key={key}>
            <dt>{schema?.properties?.[key]?.title ?? humanize(key)}</dt>
            <dd><Scalar value={item} schema={schema?.properties?.[key]} name={key} /></dd>
          </div>
        ))}
      </dl>
    );
  }
  return <Scalar value={value} schema={schema} name={name} uiSchema={uiSchema} />;
}

export function ReadOnlyField({ formData, schema, name, idSchema, uiSchema }: FieldProps) {
  const title = (uiSchema?.["ui:title"] as string | undefined) ?? schema.title ?? name;
  const labelId = `${idSchema.$id}__label`;
  return (
    <div className="ro-field" role="group" aria-labelledby={labelId}>
      <div className="ro-label" id={labelId}>{title}</div>
      <div className="ro-value" id={idSchema.$id}><Value value={formData} schema={schema} name={name} uiSchema={uiSchema} /></div>
    </div>
  );
}
