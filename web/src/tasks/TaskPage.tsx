// One task: its form beside the client it concerns and the instance's story. Completing it
// (after a confirmation for decisions) returns the person to the inbox with the next task ready.
import { useState } from "react";
import { Alert, Button, Card, Spin, Tag, Typography, message } from "antd";
import { ArrowLeftOutlined, ClockCircleOutlined, UserAddOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ProblemError } from "../api/client";
import { useSession } from "../auth/session";
import { ForbiddenPage, NotFoundPage } from "../ui/ForbiddenPage";
import { ProblemAlert } from "../ui/ProblemAlert";
import { dueState, formatDateTime, formatDue } from "../ui/format";
import { problemText } from "../ui/problemText";
import { JsonSchemaForm } from "./JsonSchemaForm";
import { TaskSide } from "./TaskSide";
import { confirmConsequence, consequenceOf } from "./confirm";
import { taskKeys, tasksApi, type TaskDetail } from "./tasksApi";
import "./task.css";

function TaskMissing({ error }: { error: unknown }) {
  const { t } = useTranslation("tasks");
  if (error instanceof ProblemError && error.problem.status === 403) return <ForbiddenPage />;
  if (error instanceof ProblemError && (error.problem.status === 404 || error.problem.status === 422)) {
    return (
      <div>
        <NotFoundPage />
        <Typography.Paragraph type="secondary" className="task-missing-hint">{t("missing")}</Typography.Paragraph>
      </div>
    );
  }
  return <ProblemAlert error={error} />;
}

function TaskView({ task }: { task: TaskDetail }) {
  const { t } = useTranslation("tasks");
  const { user, can } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [serverErrors, setServerErrors] = useState<Record<string, string[]> | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const subject = task.subject || task.name;
  const open = task.status === "open";
  const mine = !!user && task.assignee === user.username;
  const heldByOther = open && !!task.assignee && !mine;

  const claim = useMutation({
    mutationFn: () => tasksApi.claim(task.id),
    onSuccess: () => {
      void message.success(t("claimed"));
      void queryClient.invalidateQueries({ queryKey: taskKeys.all });
    },
    onError: (error) => void message.error(problemText(error)),
  });

  const complete = useMutation({
    mutationFn: (data: Record<string, unknown>) => tasksApi.complete(task.id, data),
    onSuccess: () => {
      void message.success(t("completed", { subject }));
      void queryClient.invalidateQueries({ queryKey: taskKeys.all });
      void queryClient.invalidateQueries({ queryKey: ["notifications"] });
      navigate("/inbox");
    },
    onError: (error) => {
      if (error instanceof ProblemError && error.problem.status === 422) {
        const errors = error.fieldErrors();
        setServerErrors(Object.keys(errors).length ? errors : { "": [error.problem.detail || error.problem.title] });
      } else {
        setFailure(error);
      }
    },
  });

  const submit = async (data: Record<string, unknown>) => {
    if (!task.form) return;
    setFailure(null);
    const consequence = consequenceOf(task.form, data);
    if (consequence && !(await confirmConsequence(consequence))) return;
    complete.mutate(data);
  };

  const state = dueState(task.due);
  return (
    <article className="task-page" aria-labelledby="task-title">
      <Link to="/inbox" className="task-back"><ArrowLeftOutlined aria-hidden /> {t("back")}</Link>
      <header className="task-head">
        <Typography.Title level={1} className="page-title" id="task-title">{subject}</Typography.Title>
        <div className="task-head-meta">
          {task.subject && <span>{task.name}</span>}
          {task.process_name && <span>{task.process_name}</span>}
          {task.due && (
            <span className={`due-${state}`} title={formatDateTime(task.due)}>
              <ClockCircleOutlined aria-hidden /> {formatDue(task.due)} ({formatDateTime(task.due)})
            </span>
          )}
          {!open && <Tag>{t(`status.${task.status}`, { defaultValue: task.status })}</Tag>}
        </div>
      </header>

      {!open && <Alert type="info" showIcon className="task-alert" message={t("closed", { who: task.completed_by ?? "—" })} />}
      {heldByOther && <Alert type="warning" showIcon className="task-alert" message={t("heldBy", { who: task.assignee })} />}
      {open && !task.assignee && can("tasks:work") && (
        <Alert
          type="info"
          showIcon
          className="task-alert"
          message={t("offered")}
          action={<Button icon={<UserAddOutlined aria-hidden />} loading={claim.isPending} onClick={() => claim.mutate()}>{t("claim")}</Button>}
        />
      )}
      {failure !== null && <div className="task-alert"><ProblemAlert error={failure} /></div>}

      <div className="task-grid">
        <Card className="task-form-card">
          {task.form ? (
            <JsonSchemaForm
              form={task.form}
              data={task.data}
              serverErrors={serverErrors}
              onChange={() => serverErrors && setServerErrors(null)}
              onSubmit={(data) => void submit(data)}
              busy={complete.isPending}
              disabled={!open || heldByOther || !can("tasks:work")}
              submitLabel={t("complete")}
            />
          ) : (
            <>
              <Typography.Paragraph>{t("noForm")}</Typography.Paragraph>
              <Button type="primary" disabled={!open || heldByOther || !can("tasks:work")} loading={complete.isPending}
                onClick={() => complete.mutate({})}>{t("complete")}</Button>
            </>
          )}
        </Card>
        <TaskSide task={task} />
      </div>
    </article>
  );
}

export default function TaskPage() {
  const { taskId = "" } = useParams();
  const { t } = useTranslation("tasks");
  const task = useQuery({ queryKey: taskKeys.detail(taskId), queryFn: () => tasksApi.get(taskId) });
  if (task.isPending) return <div className="page-loading"><Spin tip={t("loading")}><div /></Spin></div>;
  if (task.isError) return <TaskMissing error={task.error} />;
  return <TaskView key={task.data.id} task={task.data} />;
}
