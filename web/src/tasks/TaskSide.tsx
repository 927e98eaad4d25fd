// Beside the form: the client the task concerns, who else worked on the instance, and its history.
import { Card, Typography } from "antd";
import { HistoryOutlined, TeamOutlined, UserOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { formatDateTime } from "../ui/format";
import { tasksApi, type HistoryEntry, type TaskDetail } from "./tasksApi";

const CLIENT_KEY = /^client:(\d+)$/;
const PERSON_STEPS = new Set(["UserTask", "ManualTask", "BpmnUserTask"]);
const SHOWN_EVENTS = new Set(["instance_started", "instance_completed", "instance_cancelled", "incident", "message_received", "timer_fired", "retried"]);

function isPersonStep(entry: HistoryEntry): boolean {
  return !!entry.element_type && (PERSON_STEPS.has(entry.element_type) || /UserTask|ManualTask/.test(entry.element_type));
}

/** The client a task concerns: its data's client_id, else the instance's client:N business key. */
export function clientIdOf(task: TaskDetail, businessKey: string | null | undefined): number | null {
  const fromData = Number(task.data?.client_id);
  if (Number.isInteger(fromData) && fromData > 0) return fromData;
  const match = businessKey ? CLIENT_KEY.exec(businessKey) : null;
  return match ? Number(match[1]) : (task.client?.id ?? null);
}

function ClientCard({ clientId }: { clientId: number | null }) {
  const { t } = useTranslation("tasks");
  const client = useQuery({
    queryKey: ["client-name", clientId],
    queryFn: () => tasksApi.clientName(clientId!),
    enabled: clientId !== null,
    retry: false,
    staleTime: 300_000,
  });
  return (
    <Card size="small" title={<span><UserOutlined aria-hidden /> {t("side.client")}</span>} className="task-side-card">
      {clientId === null ? (
        <Typography.Text type="secondary">{t("side.noClient")}</Typography.Text>
      ) : (
        <Link to={`/clients/${clientId}`} className="task-side-client">
          {client.data?.name ?? t("side.clientNumber", { id: clientId })}
        </Link>
      )}
    </Card>
  );
}

export function TaskSide({ task }: { task: TaskDetail }) {
  const { t } = useTranslation("tasks");
  const instance = useQuery({ queryKey: ["instance", task.instance_id], queryFn: () => tasksApi.instance(task.instance_id), retry: false });
  const history = useQuery({ queryKey: ["history", task.instance_id], queryFn: () => tasksApi.history(task.instance_id), retry: false });
  const entries = (history.data?.items ?? []).filter((entry) => SHOWN_EVENTS.has(entry.event) || (isPersonStep(entry) && ["ready", "completed", "cancelled"].includes(entry.event)));

  // Who worked on it: the starter, everyone who completed a step, and whoever holds this task.
  const people = new Map<string, string>();
  const starter = instance.data?.started_by ?? history.data?.items.find((entry) => entry.event === "instance_started")?.actor;
  if (starter) people.set(starter, t("side.started"));
  for (const entry of history.data?.items ?? []) {
    if (isPersonStep(entry) && entry.event === "completed" && entry.actor && entry.actor !== "timer") {
      people.set(entry.actor, t("side.completedStep", { step: entry.element_name ?? entry.element_id }));
    }
  }
  if (task.assignee) people.set(task.assignee, t("side.holds"));

  return (
    <aside className="task-side" aria-label={t("side.label")}>
      <ClientCard clientId={clientIdOf(task, instance.data?.business_key ?? task.business_key)} />
      <Card size="small" title={<span><TeamOutlined aria-hidden /> {t("side.people")}</span>} className="task-side-card">
        {people.size === 0 ? (
          <Typography.Text type="secondary">{history.isPending ? t("side.loading") : t("side.nobody")}</Typography.Text>
        ) : (
          <ul className="task-side-people">
            {[...people.entries()].map(([person, role]) => (
              <li key={person}><strong>{person}</strong> <Typography.Text type="secondary">{role}</Typography.Text></li>
            ))}
          </ul>
        )}
      </Card>
      <Card size="small" title={<span><HistoryOutlined aria-hidden /> {t("side.history")}</span>} className="task-side-card">
        {history.isError ? (
          <Typography.Text type="secondary">{t("side.historyHidden")}</Typography.Text>
        ) : entries.length === 0 ? (
          <Typography.Text type="secondary">{history.isPending ? t("side.loading") : t("side.noHistory")}</Typography.Text>
        ) : (
          <ol className="task-side-history">
            {entries.map((entry) => (
              <li key={entry.id}>
                <div>
                  {SHOWN_EVENTS.has(entry.event)
                    ? t(`side.events.${entry.event}`)
                    : t(`side.steps.${entry.event}`, { step: entry.element_name ?? entry.element_id })}
                  {entry.actor && entry.actor !== "timer" && entry.event !== "ready" && <Typography.Text type="secondary"> · {entry.actor}</Typography.Text>}
                </div>
                <time dateTime={entry.at} className="task-side-time">{formatDateTime(entry.at)}</time>
              </li>
            ))}
          </ol>
        )}
      </Card>
    </aside>
  );
}
