import { useState } from "react";
import { Alert, Button, Card, Form, Input, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { useQueryClient } from "@tanstack/react-query";
import { ProblemError } from "../api/client";
import { problemText } from "../ui/problemText";
import { useSession } from "./session";
import { sessionApi } from "./sessionApi";

interface Enrolment {
  secret: string;
  otpauth_uri: string;
}

/** Adding a second factor (TOTP): the secret for an authenticator app, a first code to confirm it,
 * then the recovery codes, shown this once. The only screen open while one's role requires it. */
export default function SecondFactorPage() {
  const { t } = useTranslation("secondFactor");
  const { user, logout } = useSession();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ code: string }>();
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setEnrolment(await sessionApi.startSecondFactor());
    } catch (failure) {
      setError(problemText(failure));
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
        setError(problemText(failure));
      }
    } finally {
      setBusy(false);
    }
  };

  // The session now has its second factor: GET /api/auth/session says so and every screen opens.
  const done = () => queryClient.invalidateQueries({ queryKey: ["session"] });

  return (
    <Card className="password-card">
      <Typography.Title level={1} className="page-title">{t("title")}</Typography.Title>
      {user?.totp_required && !codes && <Alert className="login-alert" type="warning" showIcon message={t("required")} />}
      {error && <Alert className="login-alert" type="error" showIcon role="alert" message={error} />}
      {user?.totp_enabled && !codes && <Alert className="login-alert" type="success" showIcon message={t("alreadyOn")} />}
      {!enrolment && !user?.totp_enabled && (
        <>
          <Typography.Paragraph>{t("intro")}</Typography.Paragraph>
          <Button type="primary" onClick={start} loading={busy}>{t("start")}</Button>{" "}
          {user?.totp_required && <Button onClick={() => void logout()}>{t("logout")}</Button>}
        </>
      )}
      {enrolment && !codes && (
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
      {codes && (
        <>
          <Alert className="login-alert" type="success" showIcon message={t("enabled")} role="status" />
          <Typography.Paragraph>{t("recovery")}</Typography.Paragraph>
          <ul className="recovery-codes" aria-label={t("recoveryCodes")}>
            {codes.map((code) => <li key={code}><Typography.Text code>{code}</Typography.Text></li>)}
          </ul>
          <Button type="primary" onClick={() => void done()}>{t("saved")}</Button>
        </>
      )}
    </Card>
  );
}
