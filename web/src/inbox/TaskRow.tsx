import { Button, Tag, message } from "antd";
import { ClockCircleOutlined, UserAddOutlined, UserDeleteOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { useSession } from "../auth/session";
import { dueState, formatDateTime, formatDue } from "../ui/format";
import { problemText } from "../ui/problemText";
import { taskKeys, tasksApi, type InboxView, type TaskSummary } from "../tasks/tasksApi";

/** How pressing a priority is, in words: the number alone means nothing to a person. */
export function priorityLevel(priority: number): "urgent" | "high" | "normal" | "low" {
  if (priority >= 80) return "urgent";
  if (priority >= 60) return "high";
  if (priority < 40) return "low";
  return "normal";
}

const PRIORITY_COLOUR = { urgent: "red", high: "orange", normal: "default", low: "default" } as const;

export function clientOf(task: TaskSummary): string | null {
  return task.client?.name ?? task.client_name ?? null;
}

/** One task of the inbox: what it is about (a link that opens it), where it comes from, when it is due. */
export function TaskRow({ task, view }: { task: TaskSummary; view: InboxView }) {
  const { t } = useTranslation("inbox");
  const { user } = useSession();
  const queryClient = useQueryClient();
  const mine = !!user && task.assignee === user.username;
  const canClaim = view === "offered" && !task.assignee;

  const action = useMutation({
    mutationFn: () => (mine ? tasksApi.unclaim(task.id) : tasksApi.claim(task.id)),
    onSuccess: () => {
      void message.success(mine ? t("row.unclaimed") : t("row.claimed"));
      void queryClient.invalidateQueries({ queryKey: taskKeys.all });
    },
    onError: (error) => void message.error(problemText(error)),
  });

  const subject = task.subject || task.name;
  const state = dueState(task.due);
  const level = priorityLevel(task.priority);
  const client = clientOf(task);
  const titleId = `task-${task.id}-title`;
  return (
    <li className={"task-row" + (state === "overdue" ? " task-row-overdue" : "")} aria-labelledby={titleId} data-inbox-row>
      <div className="task-row-main">
        <Link to={`/tasks/${task.id}`} className="task-row-subject" id={titleId}>{subject}</Link>
        <div className="task-row-meta">
          {task.subject && <span>{task.name}</span>}
          {task.process_name && <span>{task.process_name}</span>}
          {client && <span className="task-row-client">{t("row.client", { name: client })}</span>}
          {task.assignee && !mine && <span>{t("row.assignee", { name: task.assignee })}</span>}
        </div>
      </div>
      <div className="task-row-side">
        <span className={`task-row-due due-${state}`} title={task.due ? formatDateTime(task.due) : undefined}>
          <ClockCircleOutlined aria-hidden /> {formatDue(task.due)}
        </span>
        <Tag color={PRIORITY_COLOUR[level]} className="task-row-priority">{t(`priority.${level}`)}</Tag>
        {(canClaim || mine) && (
          <Button
            size="small"
            icon={mine ? <UserDeleteOutlined aria-hidden /> : <UserAddOutlined aria-hidden />}
            loading={action.isPending}
            onClick={() => action.mutate()}
            aria-label={mine ? t("row.unclaimLabel", { subject }) : t("row.claimLabel", { subject })}
          >
            {mine ? t("row.unclaim") : t("row.claim")}
          </Button>
        )}
      </div>
    </li>
  );
}
