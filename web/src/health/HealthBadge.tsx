import { Card, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { formatDate } from "../ui/format";
import { BAND_COLOURS, useClientHealth, type ClientHealth } from "./healthApi";
import "./health.css";

function points(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}

/** The score as a tag in the band's colour: "Health 55 · Watch". */
export function HealthTag({ health }: { health: Pick<ClientHealth, "score" | "band" | "band_text"> }) {
  const { t } = useTranslation("health");
  return (
    <Tag color={BAND_COLOURS[health.band]} className="health-tag" data-band={health.band}>
      {t("badge", { score: health.score, band: health.band_text })}
    </Tag>
  );
}

/** The client page's badge, beside tier and status; nothing for a client without a score. */
export function ClientHealthBadge({ clientId }: { clientId: number }) {
  const health = useClientHealth(clientId);
  return health.data ? <HealthTag health={health.data} /> : null;
}

/** Why the score is what it is: each rule that fired with its points, in the reader's language. */
export function ClientHealthCard({ clientId }: { clientId: number }) {
  const { t } = useTranslation("health");
  const health = useClientHealth(clientId);
  if (!health.data) return null;
  const data = health.data;
  return (
    <Card
      size="small"
      className="health-card"
      title={<span>{t("card.title")} <HealthTag health={data} /></span>}
      extra={<Typography.Text type="secondary">{t("card.computed", { when: formatDate(data.computed_at) })}</Typography.Text>}
    >
      {data.reasons.length === 0 ? (
        <Typography.Text type="secondary">{t("card.noReasons")}</Typography.Text>
      ) : (
        <ul className="health-card-reasons" aria-label={t("card.reasons")}>
          {data.reasons.map((reason) => (
            <li key={reason.reason} className="health-reason">
              <span>{reason.text}</span>
              <Tag color={reason.points < 0 ? "red" : "green"}>{points(reason.points)}</Tag>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
