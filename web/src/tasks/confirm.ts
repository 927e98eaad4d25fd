// Which completions need a second look, and what to say about them: a decision to approve,
// reject or send back, or a form its designer marked irreversible ("x-atrium-irreversible").
/* eslint-disable @typescript-eslint/no-explicit-any */
import { Modal } from "antd";
import i18n from "../i18n";
import { choiceLabel } from "./formSchema";
import type { JsonForm } from "./tasksApi";

const DECISIONS = ["approve", "reject", "rework"] as const;
type Decision = (typeof DECISIONS)[number];

export interface Consequence {
  title: string;
  body: string;
  danger: boolean;
  okText: string;
}

/** The consequence of completing with this data, or null when no confirmation is needed. */
export function consequenceOf(form: JsonForm, data: Record<string, any>): Consequence | null {
  const t = (key: string, options?: Record<string, unknown>) => i18n.t(`tasks:confirm.${key}`, options ?? {});
  for (const [field, value] of Object.entries(data)) {
    if (typeof value === "string" && (DECISIONS as readonly string[]).includes(value) && Array.isArray(form.schema.properties?.[field]?.enum)) {
      const decision = value as Decision;
      const label = choiceLabel(form.schema, form.ui_schema, field, value);
      return { title: t(`${decision}Title`, { label }), body: t(`${decision}Body`), danger: decision === "reject", okText: label };
    }
  }
  if (typeof data.approved === "boolean") {
    const decision: Decision = data.approved ? "approve" : "reject";
    return { title: t(`${decision}Title`, { label: t(`${decision}Label`) }), body: t(`${decision}Body`), danger: !data.approved, okText: t(`${decision}Label`) };
  }
  if (form.schema["x-atrium-irreversible"] === true) {
    return { title: t("irreversibleTitle"), body: t("irreversibleBody"), danger: true, okText: t("irreversibleOk") };
  }
  return null;
}

/** Asks; resolves true when the person confirms. The confirm button has the focus, so Enter confirms. */
export function confirmConsequence(consequence: Consequence): Promise<boolean> {
  return new Promise((resolve) => {
    Modal.confirm({
      title: consequence.title,
      content: consequence.body,
      okText: consequence.okText,
      cancelText: i18n.t("tasks:confirm.cancel"),
      okButtonProps: { danger: consequence.danger },
      autoFocusButton: "ok",
      onOk: () => resolve(true),
      onCancel: () => resolve(false),
    });
  });
}
