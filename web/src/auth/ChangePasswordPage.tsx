import { useState } from "react";
import { Alert, Button, Card, Form, Input, Typography, message } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router-dom";
import { ProblemError } from "../api/client";
import { problemText } from "../ui/problemText";
import { useSession } from "./session";
import { sessionApi } from "./sessionApi";

interface Values {
  current: string;
  next: string;
  repeat: string;
}

// The server's field names -> this form's.
const FIELDS: Record<string, keyof Values> = { current_password: "current", new_password: "next" };

/** Changing one's password, and the only screen open after an administrator reset it. */
export default function ChangePasswordPage() {
  const { t } = useTranslation("password");
  const { user, login, logout } = useSession();
  const navigate = useNavigate();
  const [form] = Form.useForm<Values>();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const forced = !!user?.password_change_required;

  const submit = async (values: Values) => {
    setBusy(true);
    setError(null);
    try {
      await sessionApi.changePassword(values.current, values.next);
      // The change ended every session of the account, this one too: sign in again with the new password.
      try {
        await login(user!.username, values.next);
      } catch (relogin) {
        // A second factor: the person logs in again themselves, with the new password and a code.
        if (!(relogin instanceof ProblemError && relogin.kind === "otp-required")) throw relogin;
        void message.success(t("doneLogInAgain"));
        await logout().catch(() => undefined);
        return;
      }
      void message.success(t("done"));
      navigate("/inbox", { replace: true });
    } catch (failure) {
      if (failure instanceof ProblemError && failure.problem.status === 422) {
        form.setFields(Object.entries(failure.fieldErrors()).filter(([name]) => FIELDS[name])
          .map(([name, errors]) => ({ name: FIELDS[name], errors })));
      }
      setError(problemText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card className="password-card">
      <Typography.Title level={1} className="page-title">{t("title")}</Typography.Title>
      <Alert className="login-alert" type={forced ? "warning" : "info"} showIcon message={forced ? t("forced") : t("voluntary")} />
      {error && <Alert className="login-alert" type="error" showIcon role="alert" message={error} />}
      <Form form={form} layout="vertical" onFinish={submit} requiredMark={false}>
        <Form.Item label={t("current")} name="current" rules={[{ required: true, message: t("required") }]}>
          <Input.Password autoComplete="current-password" autoFocus />
        </Form.Item>
        <Form.Item label={t("new")} name="next" extra={t("hint")} rules={[{ required: true, message: t("required") }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          label={t("repeat")}
          name="repeat"
          dependencies={["next"]}
          rules={[
            { required: true, message: t("required") },
            ({ getFieldValue }) => ({
              validator: (_, value) =>
                !value || value === getFieldValue("next") ? Promise.resolve() : Promise.reject(new Error(t("mismatch"))),
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={busy}>{t("submit")}</Button>
      </Form>
      {!forced && (
        <Typography.Paragraph className="second-factor-link">
          <Link to="/second-factor">{user?.totp_enabled ? t("secondFactorOn") : t("secondFactorAdd")}</Link>
        </Typography.Paragraph>
      )}
    </Card>
  );
}
