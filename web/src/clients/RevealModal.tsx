import { Alert, Form, Input, Modal, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { ProblemAlert } from "../ui/ProblemAlert";
import { useRevealField } from "./clientsApi";

// The server's rule (atrium/masking.py REVEAL_REASON_MIN/MAX), checked here first to say it in the person's language.
const REASON_MIN = 10;
const REASON_MAX = 500;

export interface RevealModalProps {
  clientId: number;
  field: string;
  /** The field's name as shown on the page. */
  fieldLabel: string;
  onRevealed: (field: string, value: unknown) => void;
  onClose: () => void;
}

/** Asks why a masked field is needed, then shows it in full (POST /api/clients/{id}/reveal, audited). */
export function RevealModal({ clientId, field, fieldLabel, onRevealed, onClose }: RevealModalProps) {
  const { t } = useTranslation("clients");
  const [form] = Form.useForm<{ reason: string }>();
  const reveal = useRevealField(clientId);

  const submit = async () => {
    const { reason } = await form.validateFields();
    reveal.mutate(
      { field, reason: reason.trim() },
      {
        onSuccess: (answer) => {
          onRevealed(field, answer.value);
          onClose();
        },
      },
    );
  };

  return (
    <Modal
      open
      title={t("reveal.title", { field: fieldLabel })}
      okText={t("reveal.confirm")}
      cancelText={t("reveal.cancel")}
      confirmLoading={reveal.isPending}
      onOk={() => void submit()}
      onCancel={onClose}
      destroyOnClose
    >
      <Alert className="reveal-note" type="info" showIcon role="note" message={t("reveal.audited")} />
      {reveal.isError && <div className="reveal-problem"><ProblemAlert error={reveal.error} /></div>}
      <Form form={form} layout="vertical" requiredMark={false} onFinish={() => void submit()}>
        <Form.Item
          label={t("reveal.reason")}
          name="reason"
          extra={<Typography.Text type="secondary">{t("reveal.reasonHint", { min: REASON_MIN })}</Typography.Text>}
          rules={[
            { required: true, whitespace: true, message: t("reveal.reasonRequired") },
            {
              validator: (_, value?: string) =>
                !value?.trim() || value.trim().length >= REASON_MIN
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("reveal.reasonShort", { min: REASON_MIN }))),
            },
          ]}
        >
          <Input.TextArea rows={3} maxLength={REASON_MAX} autoFocus />
        </Form.Item>
      </Form>
    </Modal>
  );
}
