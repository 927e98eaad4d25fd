import { Card, Empty, List, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { ProblemAlert } from "../ui/ProblemAlert";
import { dueState, formatDateTime, formatDue } from "../ui/format";
import { useOpenWork } from "./clientsApi";

/** The client's running processes and the open tasks of them this person may see. */
export function OpenWork({ clientId }: { clientId: number }) {
  const { t } = useTranslation("clients");
  const work = useOpenWork(clientId);
  if (work.isError) return <ProblemAlert error={work.error} onRetry={() => void work.refetch()} />;
  const processName = (key?: string) => t(`process.${key}`, { defaultValue: key ?? "" });
  return (
    <div className="client-work">
      <Card size="small" title={<h2 className="card-title">{t("work.tasks")}</h2>}>
        <List
          className="work-list"
          loading={work.isPending}
          dataSource={work.data?.tasks ?? []}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("work.noTasks")} /> }}
          renderItem={(task) => {
            const name = task.subject || task.name || "";
            return (
              <List.Item>
                <Link to={`/tasks/${task.id}`} aria-label={t("work.openTask", { name })}>{name}</Link>
                <Typography.Text type="secondary">{task.process_name || processName(task.process_key)}</Typography.Text>
                <span>{task.assignee ? t("work.assignee", { who: task.assignee }) : <Tag>{t("work.unassigned")}</Tag>}</span>
                {task.due && <span className={`due-${dueState(task.due)}`}>{formatDue(task.due)}</span>}
              </List.Item>
            );
          }}
        />
      </Card>
      <Card size="small" title={<h2 className="card-title">{t("work.processes")}</h2>}>
        <List
          className="work-list"
          loading={work.isPending}
          dataSource={work.data?.instances ?? []}
          locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("work.noProcesses")} /> }}
          renderItem={(instance) => (
            <List.Item>
              <span>{processName(instance.process_key)}</span>
              <Typography.Text type="secondary">
                {instance.started_by
                  ? t("work.started", { when: formatDateTime(instance.started_at), who: instance.started_by })
                  : t("work.startedNoOne", { when: formatDateTime(instance.started_at) })}
              </Typography.Text>
            </List.Item>
          )}
        />
      </Card>
    </div>
  );
}
