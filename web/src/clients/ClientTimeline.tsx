import { Empty, Tag, Timeline, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { ProblemAlert } from "../ui/ProblemAlert";
import { formatDateTime } from "../ui/format";
import { useTimeline, type TimelineEvent } from "./clientsApi";

const COLOURS: Record<string, string> = {
  complaint: "red", service_request: "blue", feedback: "green", engagement: "purple", follow_up: "cyan",
  process_instance: "gray", task: "gray",
};

/** Everything that happened with the client, newest first. */
export function ClientTimeline({ clientId }: { clientId: number }) {
  const { t } = useTranslation("clients");
  const timeline = useTimeline(clientId);
  if (timeline.isError) return <ProblemAlert error={timeline.error} onRetry={() => void timeline.refetch()} />;
  const events = timeline.data?.items ?? [];
  if (!timeline.isPending && events.length === 0) return <Empty description={t("timeline.empty")} />;
  const statusText = (event: TimelineEvent) => {
    if (!event.status) return null;
    const group = { service_request: "serviceRequest", complaint: "complaint", engagement: "engagement" }[event.kind] ?? "timeline";
    return t(`${group}.statuses.${event.status}`, { defaultValue: t(`timeline.statuses.${event.status}`, { defaultValue: event.status }) });
  };
  // The server names a process by its key ("service_request started"): say it in the reader's words.
  const title = (event: TimelineEvent) =>
    event.kind === "process_instance"
      ? t(`process.${event.title.replace(/ started$/, "")}`, { defaultValue: event.title })
      : event.title;
  return (
    <Timeline
      aria-label={t("timeline.label")}
      pending={timeline.isPending ? t("common:state.loading") : undefined}
      items={events.map((event) => ({
        color: COLOURS[event.kind] ?? "gray",
        children: (
          <div>
            <Tag>{t(`timeline.kinds.${event.kind}`, { defaultValue: event.kind })}</Tag>
            {event.kind === "task" ? <Link to={`/tasks/${event.id}`}>{title(event)}</Link> : <span>{title(event)}</span>}
            {statusText(event) && <Typography.Text type="secondary"> · {statusText(event)}</Typography.Text>}
            <div>
              <Typography.Text type="secondary">
                {formatDateTime(event.at)}
                {event.actor ? ` · ${t("timeline.by", { who: event.actor })}` : ""}
              </Typography.Text>
            </div>
          </div>
        ),
      }))}
    />
  );
}
