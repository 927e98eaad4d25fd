import { Alert, Button, Space, Tag } from "antd";
import { useTranslation } from "react-i18next";
import type { Problem } from "../api/client";

interface Candidate {
  id: number;
  name: string;
  owner?: string | null;
  status?: string;
  matched_on?: string[];
}

/** A 409 duplicate: the existing clients it matches (each opens in a new tab so the form stays), the
 * ones the person may not see only counted, and "Create anyway". */
export function DuplicateWarning({
  problem,
  onCreateAnyway,
  onCancel,
  busy,
}: {
  problem: Problem;
  onCreateAnyway: () => void;
  onCancel: () => void;
  busy: boolean;
}) {
  const { t } = useTranslation("clients");
  const candidates = (problem.candidates ?? []) as unknown as Candidate[];
  return (
    <Alert
      className="duplicate-alert"
      type="warning"
      showIcon
      role="alert"
      message={t("edit.duplicateTitle")}
      description={
        <>
          <div>{t("edit.duplicateBody")}</div>
          <ul className="duplicate-list" aria-label={t("edit.duplicateTitle")}>
            {candidates.map((candidate) => (
              <li key={candidate.id}>
                <a
                  href={`/clients/${candidate.id}`}
                  target="_blank"
                  rel="noopener"
                  aria-label={t("edit.openCandidate", { name: candidate.name })}
                >
                  {candidate.name}
                </a>{" "}
                {(candidate.matched_on ?? []).map((what) => (
                  <Tag key={what} color="orange">
                    {t("edit.matchedOn", { what: t(`edit.matched.${what}`, { defaultValue: what }) })}
                  </Tag>
                ))}
                {candidate.owner && <span className="muted">{t("edit.ownedBy", { owner: candidate.owner })}</span>}
              </li>
            ))}
          </ul>
          {problem.withheld && problem.withheld.count > 0 && <p>{t("edit.withheld", { count: problem.withheld.count })}</p>}
          <Space wrap>
            <Button danger onClick={onCreateAnyway} loading={busy}>{t("edit.createAnyway")}</Button>
            <Button onClick={onCancel}>{t("edit.cancel")}</Button>
          </Space>
        </>
      }
    />
  );
}
