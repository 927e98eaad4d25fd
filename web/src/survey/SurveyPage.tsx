// The survey a client's contact opens from the link in a mail: no login, phone-first, in the survey's
// language. Every refusal of a link (answered, expired, changed) is one page, as the server makes it
// one answer; unsubscribing works from any of the pages a link shows.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { useEffect, useState } from "react";
import { Alert, Button, Card, Checkbox, Result, Spin, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { useParams } from "react-router-dom";
import { api, ProblemError } from "../api/client";
import { useLanguage } from "../i18n/useLanguage";
import { isLanguage } from "../i18n";
import { JsonSchemaForm } from "../tasks/JsonSchemaForm";
import "./survey.css";

interface OpenSurvey {
  firm: string;
  about?: string | null;
  locale: string;
  schema: Record<string, any>;
  ui_schema?: Record<string, any> | null;
}

type State =
  | { kind: "loading" }
  | { kind: "open"; survey: OpenSurvey }
  | { kind: "thanks"; firm?: string }
  | { kind: "unavailable" }
  | { kind: "throttled"; seconds: number }
  | { kind: "failed"; detail: string };

function stateOf(failure: unknown): State {
  if (failure instanceof ProblemError) {
    if (failure.problem.status === 410 || failure.problem.status === 404) return { kind: "unavailable" };
    if (failure.problem.status === 429) return { kind: "throttled", seconds: failure.problem.retryAfter ?? 60 };
    return { kind: "failed", detail: failure.problem.detail || failure.problem.title };
  }
  return { kind: "failed", detail: String(failure) };
}

function Unsubscribe({ token }: { token: string }) {
  const { t } = useTranslation("survey");
  const [open, setOpen] = useState(false);
  const [careMail, setCareMail] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (done) return <Alert className="survey-unsubscribe" type="success" showIcon role="status" message={t("unsubscribed")} />;
  if (!open)
    return (
      <Button type="link" className="survey-unsubscribe-link" onClick={() => setOpen(true)}>
        {t("unsubscribe")}
      </Button>
    );
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.POST("/api/public/surveys/{token}/opt-out", { params: { path: { token } }, body: { care_mail: careMail } });
      setDone(true);
    } catch (failure) {
      const state = stateOf(failure);
      setError(state.kind === "unavailable" ? t("unsubscribeUnavailable") : t("failed"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="survey-unsubscribe">
      <Typography.Paragraph>{t("unsubscribeExplain")}</Typography.Paragraph>
      <Checkbox checked={careMail} onChange={(event) => setCareMail(event.target.checked)}>
        {t("alsoCareMail")}
      </Checkbox>
      {error && <Alert type="error" showIcon role="alert" message={error} />}
      <Button onClick={() => void confirm()} loading={busy}>{t("confirmUnsubscribe")}</Button>
    </div>
  );
}

export default function SurveyPage() {
  const { token = "" } = useParams();
  const { t } = useTranslation("survey");
  const { applyLanguage } = useLanguage();
  const [state, setState] = useState<State>({ kind: "loading" });
  const [serverErrors, setServerErrors] = useState<Record<string, string[]> | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api
      .GET("/api/public/surveys/{token}", { params: { path: { token } } })
      .then(({ data }) => {
        if (!live || !data) return;
        if (isLanguage(data.locale)) applyLanguage(data.locale);
        setState({ kind: "open", survey: data as OpenSurvey });
      })
      .catch((failure) => live && setState(stateOf(failure)));
    return () => {
      live = false;
    };
  }, [token, applyLanguage]);

  const answer = async (answers: Record<string, any>) => {
    if (state.kind !== "open") return;
    setBusy(true);
    setServerErrors(null);
    try {
      await api.POST("/api/public/surveys/{token}", { params: { path: { token } }, body: { answers } });
      setState({ kind: "thanks", firm: state.survey.firm });
    } catch (failure) {
      if (failure instanceof ProblemError && failure.problem.status === 422) {
        // The server names fields as data.<field> or answers.<field>; the form places data.<field>.
        const errors: Record<string, string[]> = {};
        for (const [field, messages] of Object.entries(failure.fieldErrors()))
          errors[field.replace(/^answers\./, "data.")] = messages;
        setServerErrors(errors);
      } else {
        setState(stateOf(failure));
      }
    } finally {
      setBusy(false);
    }
  };

  let body;
  if (state.kind === "loading") body = <div className="page-loading"><Spin /></div>;
  else if (state.kind === "open")
    body = (
      <>
        <Typography.Text type="secondary" className="survey-firm">{state.survey.firm}</Typography.Text>
        {state.survey.about && (
          <Typography.Paragraph className="survey-about">{t("about", { about: state.survey.about })}</Typography.Paragraph>
        )}
        <JsonSchemaForm
          form={{ schema: state.survey.schema, ui_schema: state.survey.ui_schema }}
          data={{}}
          onSubmit={(answers) => void answer(answers)}
          serverErrors={serverErrors}
          busy={busy}
          submitLabel={t("send")}
        />
      </>
    );
  else if (state.kind === "thanks")
    body = <Result status="success" title={t("thanks")} subTitle={t("thanksDetail", { firm: state.firm ?? "" })} />;
  else if (state.kind === "unavailable")
    body = <Result status="info" title={t("unavailable")} subTitle={t("unavailableDetail")} />;
  else if (state.kind === "throttled")
    body = <Result status="warning" title={t("throttled", { seconds: state.seconds })} />;
  else body = <Result status="error" title={t("failed")} subTitle={state.detail} />;

  return (
    <main className="survey-page" id="main">
      <Card className="survey-card">
        {body}
        {state.kind !== "loading" && state.kind !== "throttled" && <Unsubscribe token={token} />}
      </Card>
    </main>
  );
}
