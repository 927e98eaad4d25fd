// Starting one process: its start form (the same renderer as a task's), then the first task if it
// is the starter's (e.g. the approval request to check and submit), else the inbox.
import { useState } from "react";
import { Button, Card, Spin, Typography, message } from "antd";
import { ArrowLeftOutlined, PlayCircleOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router-dom";
import { ProblemError } from "../api/client";
import { useSession } from "../auth/session";
import { NotFoundPage } from "../ui/ForbiddenPage";
import { ProblemAlert } from "../ui/ProblemAlert";
import { JsonSchemaForm } from "../tasks/JsonSchemaForm";
import { taskKeys, tasksApi } from "../tasks/tasksApi";
import { useStartable } from "./StartPage";
import "./start.css";

export default function StartFormPage() {
  const { processKey = "" } = useParams();
  const { t } = useTranslation("start");
  const { user } = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const startable = useStartable();
  const [serverErrors, setServerErrors] = useState<Record<string, string[]> | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const definition = startable.data?.items.find((item) => item.process_key === processKey);
  const name = definition?.name || processKey;

  const start = useMutation({
    mutationFn: (variables: Record<string, unknown>) => tasksApi.start({ process_key: processKey, variables }),
    onSuccess: (instance) => {
      void queryClient.invalidateQueries({ queryKey: taskKeys.all });
      const next = instance.open_tasks?.find((task) => task.assignee === user?.username);
      if (next) {
        void message.success(t("startedNext", { name }));
        navigate(`/tasks/${next.id}`);
      } else {
        void message.success(t("started", { name }));
        navigate("/inbox");
      }
    },
    onError: (error) => {
      if (error instanceof ProblemError && error.problem.status === 422 && Object.keys(error.fieldErrors()).length) {
        const errors: Record<string, string[]> = {};
        for (const [path, messages] of Object.entries(error.fieldErrors())) errors[path.replace(/^variables\./, "")] = messages;
        setServerErrors(errors);
      } else {
        setFailure(error);
      }
    },
  });

  if (startable.isPending) return <div className="page-loading"><Spin tip={t("loading")}><div /></Spin></div>;
  if (startable.isError) return <ProblemAlert error={startable.error} onRetry={() => void startable.refetch()} />;
  if (!definition) return <NotFoundPage />;

  return (
    <section aria-labelledby="start-form-title" className="start-form-page">
      <Link to="/start" className="task-back"><ArrowLeftOutlined aria-hidden /> {t("back")}</Link>
      <Typography.Title level={1} className="page-title" id="start-form-title">{name}</Typography.Title>
      {failure !== null && <div className="task-alert"><ProblemAlert error={failure} /></div>}
      <Card>
        {definition.start_form ? (
          <JsonSchemaForm
            form={definition.start_form}
            data={{}}
            serverErrors={serverErrors}
            onChange={() => serverErrors && setServerErrors(null)}
            onSubmit={(data) => { setFailure(null); start.mutate(data); }}
            busy={start.isPending}
            submitLabel={t("submit")}
          />
        ) : (
          <>
            <Typography.Paragraph>{t("noForm")}</Typography.Paragraph>
            <Button type="primary" icon={<PlayCircleOutlined aria-hidden />} loading={start.isPending} onClick={() => start.mutate({})}>
              {t("submit")}
            </Button>
          </>
        )}
      </Card>
    </section>
  );
}
