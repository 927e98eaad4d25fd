// What the form library needs added to a task's schema and UI schema: pickers for fields that
// name a person or a client, radios for short choices, read-only fields shown as text; and what
// a submission may carry (the writable fields only: the server refuses any other).
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { ErrorSchema } from "@rjsf/utils";

type Json = Record<string, any>;

const RADIO_MAX = 4;

/** "write_off" -> "Write off". */
export function humanize(key: string): string {
  const words = key.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function isReadOnly(property: Json): boolean {
  return property?.readOnly === true;
}

/** The UI schema the form renders with: the task's own, plus widgets chosen from each property. */
export function prepareUiSchema(schema: Json, uiSchema: Json | null | undefined): Json {
  const ui: Json = { ...(uiSchema ?? {}) };
  for (const [name, property] of Object.entries<Json>(schema.properties ?? {})) {
    const own: Json = { ...(ui[name] ?? {}) };
    // A choice without labels shows its values as words ("write_off" -> "Write off"), not as codes.
    if (Array.isArray(property.enum) && !own["ui:enumNames"] && property.enum.every((value: unknown) => typeof value === "string")) {
      own["ui:enumNames"] = property.enum.map(humanize);
    }
    if (isReadOnly(property)) {
      own["ui:field"] ??= "readOnlyValue";
    } else if (property.format === "atrium-user") {
      own["ui:widget"] ??= "atriumUser";
    } else if (property.format === "atrium-client") {
      own["ui:widget"] ??= "atriumClient";
    } else if (Array.isArray(property.enum) && property.enum.length <= RADIO_MAX) {
      own["ui:widget"] ??= "radio";
    } else if (property.type === "string" && (property.maxLength ?? 0) > 200 && !property.enum && !property.format) {
      own["ui:widget"] ??= "textarea";
    } else if (property.type === "object" && property.properties) {
      Object.assign(own, prepareUiSchema(property, own));
    }
    ui[name] = own;
  }
  // What the person reads (the request, the findings) comes first, what they decide last, next
  // to the button: the server's JSON does not keep the file's order anyway.
  if (!ui["ui:order"] && schema.properties) {
    const names = Object.keys(schema.properties);
    const readOnly = names.filter((name) => isReadOnly(schema.properties[name]));
    ui["ui:order"] = [...readOnly, ...names.filter((name) => !readOnly.includes(name)), "*"];
  }
  return ui;
}

/** The fields a person may fill in, from what the form holds now. */
export function writableData(schema: Json, data: Json | undefined): Json {
  const out: Json = {};
  for (const [name, property] of Object.entries<Json>(schema.properties ?? {})) {
    if (isReadOnly(property) || data?.[name] === undefined) continue;
    out[name] = data[name];
  }
  return out;
}

/** The server's 422 `errors` ({"reason": [...], "contacts.0.email": [...]}) as rjsf's extraErrors;
 * messages for fields the form does not show are returned apart, for the summary. */
export function serverErrorSchema(schema: Json, errors: Record<string, string[]>): { errorSchema: ErrorSchema; unplaced: string[] } {
  const errorSchema: Json = {};
  const unplaced: string[] = [];
  for (const [rawPath, messages] of Object.entries(errors)) {
    const path = rawPath.replace(/^data\./, "").split(".").filter(Boolean);
    if (!path.length || !(schema.properties ?? {})[path[0]]) {
      unplaced.push(...messages.map((message) => (path.length ? `${rawPath}: ${message}` : message)));
      continue;
    }
    let node = errorSchema;
    for (const part of path) node = node[part] ??= {};
    node.__errors = [...(node.__errors ?? []), ...messages];
  }
  return { errorSchema: errorSchema as ErrorSchema, unplaced };
}

/** The label a choice has on the form (its ui:enumNames), else the value itself. */
export function choiceLabel(schema: Json, uiSchema: Json | null | undefined, field: string, value: unknown): string {
  const property = schema.properties?.[field];
  const names = uiSchema?.[field]?.["ui:enumNames"] ?? property?.["x-enumNames"];
  const index = Array.isArray(property?.enum) ? property.enum.indexOf(value) : -1;
  return index >= 0 && Array.isArray(names) && names[index] ? String(names[index]) : humanize(String(value));
}
