// A plain sentence for a failed request: what happened and what to do next.
import i18n from "../i18n";
import { ProblemError } from "../api/client";

export function problemText(error: unknown): string {
  if (!(error instanceof ProblemError)) return i18n.t("problem.network");
  const { problem } = error;
  switch (problem.status) {
    case 403:
      return problem.detail ? `${i18n.t("problem.forbidden")} (${problem.detail})` : i18n.t("problem.forbidden");
    case 404:
      return i18n.t("problem.notFound");
    case 409:
      return problem.detail || i18n.t("problem.conflict");
    case 422:
      // With field errors the messages stand next to their fields; the summary only points there.
      if (Object.keys(error.fieldErrors()).length || !problem.detail) return i18n.t("problem.invalid");
      return `${i18n.t("problem.invalid")} ${problem.detail}`;
    case 429:
      return i18n.t("problem.tooMany", { seconds: problem.retryAfter ?? 60 });
    default:
      if (problem.status >= 500) return i18n.t("problem.server", { id: problem.error_id ?? "—" });
      return i18n.t("problem.generic", { detail: problem.detail || problem.title });
  }
}
