// A 422's `errors` ({"addresses.0.city": [...]}) placed on antd Form fields; what fits no field is
// returned so the page can still say it.
import type { FormInstance } from "antd";
import type { FieldErrors } from "../api/client";

/** Fields whose items are typed into one control (tags, phones...): their item errors go on the control. */
export function applyFieldErrors(form: FormInstance, errors: FieldErrors, listFields: string[] = []): string[] {
  // Registered fields (even untouched ones) and initial values: the fields the form shows.
  const registered = form.getFieldsValue() as Record<string, unknown> | undefined;
  const known = new Set([...Object.keys(registered ?? {}), ...Object.keys(form.getFieldsValue(true) ?? {})]);
  const unplaced: string[] = [];
  const placed = new Map<string, { name: (string | number)[]; errors: string[] }>();
  for (const [path, messages] of Object.entries(errors)) {
    const parts = path.split(".");
    let name: (string | number)[] = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    if (listFields.includes(parts[0])) name = [parts[0]];
    if (!known.has(String(name[0]))) {
      unplaced.push(`${path}: ${messages.join(" ")}`);
      continue;
    }
    const key = JSON.stringify(name);
    const entry = placed.get(key) ?? { name, errors: [] };
    entry.errors.push(...messages);
    placed.set(key, entry);
  }
  form.setFields([...placed.values()]);
  return unplaced;
}
