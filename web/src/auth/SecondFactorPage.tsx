import { useState } from "react";
import { Alert, Button, Card, Form, Input, Space, Typography, message } from "antd";
import { useTranslation } from "react-i18next";
import { useQueryClient } from "@tanstack/react-query";
import { ProblemError } from "../api/client";
import { ProblemAlert } from "../ui/ProblemAlert";
import { useSession } from "./session";
import { sessionApi } from "./sessionApi";

interface Enrolment {
  secret: string;
  otpauth_uri: string;
}

/** What a person with a second factor on may do with it, each asking for the password and a code. */
type Manage = "off" | "codes";

interface ProofValues {
  password: string;
  code: string;
}

/** Adding a second factor (TOTP): the secret for an authenticator app, a first code to confirm it,
 * then the recovery codes, shown this once. The only screen open while one's role requires it.
 * With one on: turning it off (unless one's role requires it) and getting new recovery codes. */
export default function SecondFactorPage() {
  const { t } = useTranslation("secondFactor");
  const { user, logout } = useSession();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ code: string }>();
  const [proofForm] = Form.useForm<ProofValues>();
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [replaced, setReplaced] = useState(false); // the codes shown replace earlier ones
  const [manage, setManage] = useState<Manage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setEnrolment(await sessionApi.startSecondFactor());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const confirm = async ({ code }: { code: string }) => {
    setBusy(true);
    setError(null);
    try {
      setCodes(await sessionApi.confirmSecondFactor(code.trim()));
    } catch (failure) {
      if (failure instanceof ProblemError && failure.problem.status === 422) {
        form.setFields([{ name: "code", errors: [t("wrongCode")] }]);
      } else {
        setError(failure);
      }
    } finally {
      setBusy(false);
    }
  };

  // The session now has (or no longer has) its second factor: GET /api/auth/session says so.
  const refreshSession = () => queryClient.invalidateQueries({ queryKey: ["session"] });
  const done = () => {
    setCodes(null);
    setReplaced(false);
    setEnrolment(null);
    void refreshSession();
  };

  const chooseManage = (next: Manage | null) => {
    setManage(next);
    setError(null);
    proofForm.resetFields();
  };

  const prove = async ({ password, code }: ProofValues) => {
    setBusy(true);
    setError(null);
    try {
      if (manage === "off") {
        await sessionApi.disableSecondFactor(password, code.trim());
        void message.success(t("turnedOff"));
        chooseManage(null);
        await refreshSession();
      } else {
        setCodes(await sessionApi.newRecoveryCodes(password, code.trim()));
        setReplaced(true);
        chooseManage(null);
      }
    } catch (failure) {
      if (failure instanceof ProblemError && failure.problem.status === 422) {
        const wrong = failure.fieldErrors();
        proofForm.setFields([
          ...(wrong.password ? [{ name: "password" as const, errors: [t("wrongPassword")] }] : []),
          ...(wrong.code ? [{ name: "code" as const, errors: [manage === "codes" ? t("wrongCurrentCode") : t("wrongAnyCode")] }] : []),
        ]);
        if (!wrong.password && !wrong.code) setError(failure);
      } else {
        setError(failure);
      }
    } finally {
      setBusy(false);
    }
  };

  const enabled = !!user?.totp_enabled;

  return (
    <Card className="password-card">
      <Typography.Title level={1} className="page-title">{t("title")}</Typography.Title>
      {user?.totp_required && !enabled && !codes && <Alert className="login-alert" type="warning" showIcon message={t("required")} />}
      {error !== null && <div className="login-alert"><ProblemAlert error={error} /></div>}
      {enabled && !codes && <Alert className="login-alert" type="success" showIcon message={t("alreadyOn")} />}
      {!enrolment && !enabled && !codes && (
        <>
          <Typography.Paragraph>{t("intro")}</Typography.Paragraph>
          <Button type="primary" onClick={start} loading={busy}>{t("start")}</Button>{" "}
          {user?.totp_required && <Button onClick={() => void logout()}>{t("logout")}</Button>}
        </>
      )}
      {enrolment && !codes && !enabled && (
        <>
          <Typography.Paragraph>{t("scan")}</Typography.Paragraph>
          <Typography.Paragraph>
            {t("secret")}{" "}
            <Typography.Text code copyable aria-label={t("secret")}>{enrolment.secret}</Typography.Text>
          </Typography.Paragraph>
          <Typography.Paragraph>
            <a href={enrolment.otpauth_uri}>{t("openApp")}</a>
          </Typography.Paragraph>
          <Form form={form} layout="vertical" onFinish={confirm} requiredMark={false}>
            <Form.Item label={t("code")} name="code" rules={[{ required: true, message: t("codeRequired") }]}>
              <Input autoComplete="one-time-code" inputMode="numeric" autoFocus />
            </Form.Item>
            <Button type="primary" htmlType="submit" loading={busy}>{t("confirm")}</Button>
          </Form>
        </>
      )}
      {enabled && !codes && manage === null && (
        <>
          <Typography.Paragraph>{t("manageIntro")}</Typography.Paragraph>
          <Space wrap>
            <Button onClick={() => chooseManage("codes")}>{t("newCodes")}</Button>
            {!user?.totp_required && <Button danger onClick={() => chooseManage("off")}>{t("turnOff")}</Button>}
          </Space>
          <Typography.Paragraph type="secondary" className="second-factor-note">
            {user?.totp_required ? t("requiredCannotTurnOff") : t("lostPhone")}
          </Typography.Paragraph>
        </>
      )}
      {enabled && !codes && manage !== null && (
        <section aria-labelledby="second-factor-manage">
          <Typography.Title level={2} className="second-factor-heading" id="second-factor-manage">
            {manage === "off" ? t("turnOffTitle") : t("newCodesTitle")}
          </Typography.Title>
          <Typography.Paragraph>{manage === "off" ? t("turnOffIntro") : t("newCodesIntro")}</Typography.Paragraph>
          <Form form={proofForm} layout="vertical" onFinish={prove} requiredMark={false}>
            <Form.Item label={t("password")} name="password" rules={[{ required: true, message: t("passwordRequired") }]}>
              <Input.Password autoComplete="current-password" autoFocus />
            </Form.Item>
            <Form.Item
              label={manage === "off" ? t("anyCode") : t("code")}
              name="code"
              rules={[{ required: true, message: t("codeRequired") }]}
            >
              <Input autoComplete="one-time-code" />
            </Form.Item>
            <Space wrap>
              <Button type="primary" danger={manage === "off"} htmlType="submit" loading={busy}>
                {manage === "off" ? t("turnOffConfirm") : t("newCodesConfirm")}
              </Button>
              <Button onClick={() => chooseManage(null)}>{t("cancel")}</Button>
            </Space>
          </Form>
        </section>
      )}
      {codes && (
        <>
          <Alert className="login-alert" type="success" showIcon message={replaced ? t("newCodesDone") : t("enabled")} role="status" />
          <Typography.Paragraph>{t("recovery")}</Typography.Paragraph>
          <ul className="recovery-codes" aria-label={t("recoveryCodes")}>
            {codes.map((code) => <li key={code}><Typography.Text code>{code}</Typography.Text></li>)}
          </ul>
          <Button type="primary" onClick={done}>{t("saved")}</Button>
        </>
      )}
    </Card>
  );
}
