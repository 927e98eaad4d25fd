// Start work: the processes this person may start by hand, one card each.
import { Button, Card, Empty, Spin, Typography } from "antd";
import { PlayCircleOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router-dom";
import { ProblemAlert } from "../ui/ProblemAlert";
import { tasksApi } from "../tasks/tasksApi";
import "./start.css";


export function useStartable() {
  const { i18n } = useTranslation();
  return useQuery({ queryKey: ["process-definitions", "startable", i18n.language], queryFn: tasksApi.startable, staleTime: 300_000 });
}

export default function StartPage() {
  const { t } = useTranslation("start");
  const startable = useStartable();
  const navigate = useNavigate();
  return (
    <section aria-labelledby="start-title">
      <Typography.Title level={1} className="page-title" id="start-title">{t("title")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("intro")}</Typography.Paragraph>
      {startable.isPending && <div className="page-loading"><Spin tip={t("loading")}><div /></Spin></div>}
      {startable.isError && <ProblemAlert error={startable.error} onRetry={() => void startable.refetch()} />}
      {startable.data && startable.data.items.length === 0 && (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("empty")} className="inbox-empty" />
      )}
      {startable.data && startable.data.items.length > 0 && (
        <ul className="start-grid" aria-label={t("listLabel")}>
          {startable.data.items.map((definition) => {
            const key = definition.process_key;
            const name = definition.name || key;
            const description = definition.start_form?.schema?.description as string | undefined;
            return (
              <li key={key}>
                <Card className="start-card" title={<h2 className="start-card-title">{name}</h2>}>
                  {description && <Typography.Paragraph type="secondary" className="start-card-body">{description}</Typography.Paragraph>}
                  <Button type="primary" className="start-card-link" icon={<PlayCircleOutlined aria-hidden />}
                    aria-label={t("startLabel", { name })} onClick={() => navigate(`/start/${encodeURIComponent(key)}`)}>
                    {t("start")}
                  </Button>
                </Card>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
