import { Alert, Button } from "antd";
import { useTranslation } from "react-i18next";
import { problemText } from "./problemText";

/** A failed load or action, said plainly, with a retry when one makes sense. */
export function ProblemAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      message={problemText(error)}
      action={onRetry ? <Button size="small" onClick={onRetry}>{t("actions.retry")}</Button> : undefined}
    />
  );
}
