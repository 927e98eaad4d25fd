import { useState } from "react";
import { Button, Form, Input, Modal, Typography, message } from "antd";
import { DeleteOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { ProblemError } from "../api/client";
import { useSession } from "../auth/session";
import { applyFieldErrors } from "../clients/fieldErrors";
import { ProblemAlert } from "../ui/ProblemAlert";
import { REASON_MAX, REASON_MIN, useRequestErasure } from "./erasuresApi";
import "./erasures.css";

interface EraseValues {
  reason: string;
  typedName: string;
}

/** The client page's "Erase personal data…" action, for accounts that may erase (`clients:erase`):
 * what erasure destroys and keeps, the reason, and the client's name typed to confirm. */
export function EraseClientAction({ clientId, clientName }: { clientId: number; clientName: string }) {
  const { t } = useTranslation("erasures");
  const { can } = useSession();
  const [open, setOpen] = useState(false);
  const [modal, modalHolder] = Modal.useModal();
  if (!can("clients:erase")) return null;
  return (
    <>
      <Button danger icon={<DeleteOutlined aria-hidden />} onClick={() => setOpen(true)}>
        {t("action.erase")}
      </Button>
      {modalHolder}
      {open && (
        <EraseClientModal
          clientId={clientId}
          clientName={clientName}
          onClose={() => setOpen(false)}
          onRequested={() => {
            setOpen(false);
            modal.success({
              title: t("action.requestedTitle"),
              content: (
                <>
                  <p>{t("action.requested")}</p>
                  <Link to="/erasures" onClick={() => Modal.destroyAll()}>{t("action.openErasures")}</Link>
                </>
              ),
              okText: t("action.ok"),
            });
          }}
        />
      )}
    </>
  );
}

function EraseClientModal(props: { clientId: number; clientName: string; onClose: () => void; onRequested: () => void }) {
  const { t } = useTranslation("erasures");
  const [form] = Form.useForm<EraseValues>();
  const erase = useRequestErasure(props.clientId);
  const navigate = useNavigate();
  const [problem, setProblem] = useState<unknown>(null);
  const typed = Form.useWatch("typedName", form);
  const limits = { min: REASON_MIN, max: REASON_MAX };

  const submit = async () => {
    const values = await form.validateFields();
    setProblem(null);
    erase.mutate(values.reason.trim(), {
      onSuccess: (erasure) => {
        if (erasure.status === "done") {
          void message.success(t("action.done"));
          navigate("/clients");
        } else {
          props.onRequested();
        }
      },
      onError: (error) => {
        if (error instanceof ProblemError && error.problem.status === 422) {
          const rest = applyFieldErrors(form, error.fieldErrors());
          if (rest.length || !Object.keys(error.fieldErrors()).length) setProblem(error);
        } else {
          setProblem(error);
        }
      },
    });
  };

  return (
    <Modal
      open
      title={t("action.title", { name: props.clientName })}
      okText={t("action.submit")}
      okButtonProps={{ danger: true, disabled: (typed ?? "").trim() !== props.clientName.trim() }}
      cancelText={t("action.cancel")}
      onOk={() => void submit().catch(() => undefined)}
      confirmLoading={erase.isPending}
      onCancel={props.onClose}
      destroyOnClose
      maskClosable={false}
    >
      <Typography.Paragraph>{t("action.intro")}</Typography.Paragraph>
      <dl className="erase-summary">
        <dt>{t("action.destroysTitle")}</dt>
        <dd>{t("action.destroys")}</dd>
        <dt>{t("action.keepsTitle")}</dt>
        <dd>{t("action.keeps")}</dd>
      </dl>
      {problem !== null && (
        <div className="erase-problem">
          <ProblemAlert error={problem} />
        </div>
      )}
      <Form<EraseValues> form={form} layout="vertical" onFinish={() => void submit().catch(() => undefined)}>
        <Form.Item
          name="reason"
          label={t("action.reason")}
          extra={t("action.reasonHelp", limits)}
          rules={[
            { required: true, whitespace: true, message: t("action.reasonRequired") },
            {
              validator: (_, value: string | undefined) => {
                const length = (value ?? "").trim().length;
                return !length || (length >= REASON_MIN && length <= REASON_MAX)
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("action.reasonLength", limits)));
              },
            },
          ]}
        >
          <Input.TextArea rows={3} maxLength={REASON_MAX} />
        </Form.Item>
        <Form.Item
          name="typedName"
          label={t("action.typeName", { name: props.clientName })}
          rules={[
            {
              validator: (_, value: string | undefined) =>
                (value ?? "").trim() === props.clientName.trim()
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("action.typeNameMismatch"))),
            },
          ]}
        >
          <Input autoComplete="off" />
        </Form.Item>
        <button type="submit" hidden aria-hidden tabIndex={-1} />
      </Form>
    </Modal>
  );
}
