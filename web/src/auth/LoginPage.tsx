import { useState } from "react";
import { Alert, Button, Card, Form, Input, Typography } from "antd";
import { LockOutlined, SafetyOutlined, UserOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation } from "react-router-dom";
import { ProblemError } from "../api/client";
import { useSession } from "./session";
import { LanguageSwitch } from "../ui/LanguageSwitch";
import { problemText } from "../ui/problemText";

/** A plain sentence for each way logging in can fail, saying what to do. */
function loginProblem(error: unknown, t: (key: string, options?: Record<string, unknown>) => string): string {
  if (!(error instanceof ProblemError)) return problemText(error);
  const kind = error.kind;
  if (error.problem.status === 429 || kind === "login-throttled")
    return t("throttled", { seconds: error.problem.retryAfter ?? 60 });
  if (kind === "account-inactive" || kind === "account-deactivated") return t("inactive");
  if (kind === "otp-invalid") return t("wrongOtp");
  if (error.problem.status === 401) return t("wrongPassword");
  if (error.problem.status === 422) return t("wrongPassword");
  return t("failed", { detail: error.problem.detail || error.problem.title });
}

export default function LoginPage() {
  const { t } = useTranslation("login");
  const { user, login, signedOutReason } = useSession();
  const location = useLocation();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The account has a second factor: the server said otp-required, so the form asks for the code too.
  const [otpNeeded, setOtpNeeded] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? "/inbox";

  if (user) return <Navigate to={from} replace />;

  const submit = async ({ username, password, otp }: { username: string; password: string; otp?: string }) => {
    setBusy(true);
    setError(null);
    try {
      await login(username, password, otpNeeded ? otp?.trim() : undefined);
    } catch (failure) {
      if (failure instanceof ProblemError && failure.kind === "otp-required") {
        setOtpNeeded(true);
        return;
      }
      setError(loginProblem(failure, t));
    } finally {
      setBusy(false);
    }
  };

  const notice = signedOutReason === "expired" ? t("expired") : signedOutReason === "loggedOut" ? t("loggedOut") : null;
  return (
    <main className="login-page" id="main">
      <div className="login-language"><LanguageSwitch /></div>
      <Card className="login-card">
        <Typography.Title level={1} className="page-title">{t("title")}</Typography.Title>
        {notice && <Alert className="login-alert" type={signedOutReason === "expired" ? "warning" : "info"} showIcon message={notice} role="status" />}
        {error && <Alert className="login-alert" type="error" showIcon message={error} role="alert" />}
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item label={t("username")} name="username" rules={[{ required: true, message: t("usernameRequired") }]}>
            <Input prefix={<UserOutlined aria-hidden />} autoComplete="username" autoFocus />
          </Form.Item>
          <Form.Item label={t("password")} name="password" rules={[{ required: true, message: t("passwordRequired") }]}>
            <Input.Password prefix={<LockOutlined aria-hidden />} autoComplete="current-password" />
          </Form.Item>
          {otpNeeded && (
            <>
              <Alert className="login-alert" type="info" showIcon message={t("otpPrompt")} role="status" />
              <Form.Item label={t("otp")} name="otp" extra={t("otpHint")} rules={[{ required: true, message: t("otpRequired") }]}>
                <Input prefix={<SafetyOutlined aria-hidden />} autoComplete="one-time-code" inputMode="numeric" autoFocus />
              </Form.Item>
            </>
          )}
          <Button type="primary" htmlType="submit" block loading={busy}>{t("submit")}</Button>
        </Form>
      </Card>
    </main>
  );
}
