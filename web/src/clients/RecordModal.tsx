import { useState, type ReactNode } from "react";
import { Alert, Form, Modal, message } from "antd";
import { useTranslation } from "react-i18next";
import { ProblemError } from "../api/client";
import { problemText } from "../ui/problemText";
import { useSaveRecord, type RecordKind } from "./clientsApi";
import { applyFieldErrors } from "./fieldErrors";

export interface RecordModalProps<V> {
  clientId: number;
  kind: RecordKind;
  /** The record being changed; none for a new one. */
  recordId?: number;
  title: string;
  initialValues: Partial<V>;
  toBody: (values: V) => Record<string, unknown>;
  /** Asked before saving what cannot be taken back (a record that starts a process). */
  confirm?: { title: string; content: string; okText: string };
  savedText: string;
  okText?: string;
  listFields?: string[];
  onClose: () => void;
  children: ReactNode;
}

/** A small form in a modal that creates or changes one record under a client; the server's field
 * errors (422) show next to their fields. */
export function RecordModal<V extends object>(props: RecordModalProps<V>) {
  const { t } = useTranslation("clients");
  const [form] = Form.useForm<V>();
  const [modal, modalHolder] = Modal.useModal();
  const save = useSaveRecord(props.clientId, props.kind);
  const [problem, setProblem] = useState<string | null>(null);

  const send = (values: V) => {
    setProblem(null);
    save.mutate(
      { id: props.recordId, body: props.toBody(values) },
      {
        onSuccess: () => {
          void message.success(props.savedText);
          props.onClose();
        },
        onError: (error) => {
          if (error instanceof ProblemError && error.problem.status === 422) {
            const rest = applyFieldErrors(form, error.fieldErrors(), props.listFields);
            setProblem(rest.length ? rest.join("; ") : t("edit.fixFields"));
          } else {
            setProblem(problemText(error));
          }
        },
      },
    );
  };

  const submit = async () => {
    const values = await form.validateFields();
    if (!props.confirm) return send(values);
    const confirmed = await modal.confirm({
      title: props.confirm.title,
      content: props.confirm.content,
      okText: props.confirm.okText,
      cancelText: t("records.cancel"),
    });
    if (confirmed) send(values);
  };

  return (
    <Modal
      open
      title={props.title}
      okText={props.okText ?? t("records.save")}
      cancelText={t("records.cancel")}
      onOk={() => void submit().catch(() => undefined)}
      confirmLoading={save.isPending}
      onCancel={props.onClose}
      destroyOnClose
      maskClosable={false}
    >
      {modalHolder}
      {problem && <Alert type="error" showIcon role="alert" message={problem} style={{ marginBottom: 16 }} />}
      <Form<V> form={form} layout="vertical" initialValues={props.initialValues} onFinish={() => void submit()}>
        {props.children}
        {/* Enter in a field submits, as in any form. */}
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}
