import { Alert, Button, Modal, Space, Spin, Table, Tag, Tooltip, Typography, message } from "antd";
import { CheckOutlined, DownloadOutlined, RollbackOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import { useSession } from "../auth/session";
import { label } from "../clients/labels";
import { formatDate, formatDateTime } from "../ui/format";
import { ProblemAlert } from "../ui/ProblemAlert";
import { problemText } from "../ui/problemText";
import {
  DUE_WITHIN_DAYS,
  downloadCertificate,
  useDecideErasure,
  useDueErasures,
  useErasures,
  type DueClient,
  type Erasure,
} from "./erasuresApi";
import "./erasures.css";

/** Admins' erasure desk: requests to confirm or withdraw, done erasures with their certificates, and
 * what the retention policy will erase soon. */
export default function ErasuresPage() {
  const { t } = useTranslation("erasures");
  return (
    <>
      <Typography.Title level={1} className="page-title">{t("page.title")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("page.intro")}</Typography.Paragraph>
      <RequestsSection />
      <DoneSection />
      <RetentionSection />
    </>
  );
}

function ClientLink({ id }: { id: number }) {
  const { t } = useTranslation("erasures");
  return <Link to={`/clients/${id}`}>{t("page.clientId", { id })}</Link>;
}

function RequestsSection() {
  const { t } = useTranslation("erasures");
  const { user } = useSession();
  const requests = useErasures("requested");
  const confirm = useDecideErasure("confirm");
  const withdraw = useDecideErasure("withdraw");
  const [modal, modalHolder] = Modal.useModal();

  const askConfirm = async (erasure: Erasure) => {
    const confirmed = await modal.confirm({
      title: t("page.confirmTitle", { id: erasure.client_id }),
      content: t("page.confirmBody"),
      okText: t("page.confirmOk"),
      okButtonProps: { danger: true },
      cancelText: t("action.cancel"),
    });
    if (!confirmed) return;
    confirm.mutate(erasure.id, {
      onSuccess: () => void message.success(t("page.confirmed", { id: erasure.client_id })),
      onError: (error) => void message.error(problemText(error)),
    });
  };
  const doWithdraw = (erasure: Erasure) =>
    withdraw.mutate(erasure.id, {
      onSuccess: () => void message.success(t("page.withdrawn")),
      onError: (error) => void message.error(problemText(error)),
    });

  return (
    <section className="erasures-section" aria-labelledby="erasure-requests">
      {modalHolder}
      <h2 id="erasure-requests">{t("page.requests")}</h2>
      {requests.isError ? (
        <ProblemAlert error={requests.error} onRetry={() => void requests.refetch()} />
      ) : (
        <Table<Erasure>
          rowKey="id"
          size="middle"
          loading={requests.isPending}
          dataSource={requests.data ?? []}
          pagination={false}
          scroll={{ x: "max-content" }}
          locale={{ emptyText: t("page.noRequests") }}
          columns={[
            { key: "client", title: t("page.client"), render: (_, row) => <ClientLink id={row.client_id} /> },
            { key: "by", title: t("page.requestedBy"), dataIndex: "requested_by" },
            { key: "at", title: t("page.requestedAt"), render: (_, row) => formatDateTime(row.requested_at) },
            { key: "reason", title: t("page.reason"), render: (_, row) => <div className="erasure-reason">{row.reason}</div> },
            {
              key: "actions",
              title: t("page.actions"),
              render: (_, row) => {
                const own = row.requested_by === user?.username;
                const confirmButton = (
                  <Button
                    type="primary"
                    danger
                    icon={<CheckOutlined aria-hidden />}
                    disabled={own}
                    loading={confirm.isPending && confirm.variables === row.id}
                    aria-label={t("page.confirmAria", { id: row.id })}
                    onClick={() => void askConfirm(row)}
                  >
                    {t("page.confirm")}
                  </Button>
                );
                return (
                  <Space wrap>
                    {own ? <Tooltip title={t("page.ownRequest")}>{confirmButton}</Tooltip> : confirmButton}
                    <Button
                      icon={<RollbackOutlined aria-hidden />}
                      loading={withdraw.isPending && withdraw.variables === row.id}
                      aria-label={t("page.withdrawAria", { id: row.id })}
                      onClick={() => doWithdraw(row)}
                    >
                      {t("page.withdraw")}
                    </Button>
                  </Space>
                );
              },
            },
          ]}
        />
      )}
    </section>
  );
}

function DoneSection() {
  const { t } = useTranslation("erasures");
  const done = useErasures("done");
  const download = (erasure: Erasure) =>
    downloadCertificate(erasure.id).catch((error: unknown) => void message.error(problemText(error)));

  return (
    <section className="erasures-section" aria-labelledby="erasures-done">
      <h2 id="erasures-done">{t("page.done")}</h2>
      {done.isError ? (
        <ProblemAlert error={done.error} onRetry={() => void done.refetch()} />
      ) : (
        <Table<Erasure>
          rowKey="id"
          size="middle"
          loading={done.isPending}
          dataSource={done.data ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: "max-content" }}
          locale={{ emptyText: t("page.noneDone") }}
          columns={[
            { key: "client", title: t("page.client"), render: (_, row) => t("page.clientId", { id: row.client_id }) },
            { key: "at", title: t("page.completedAt"), render: (_, row) => formatDateTime(row.completed_at) },
            { key: "by", title: t("page.requestedBy"), dataIndex: "requested_by" },
            { key: "confirmed", title: t("page.confirmedBy"), render: (_, row) => row.confirmed_by ?? "—" },
            { key: "reason", title: t("page.reason"), render: (_, row) => <div className="erasure-reason">{row.reason}</div> },
            {
              key: "certificate",
              title: t("page.certificate"),
              render: (_, row) => (
                <Button
                  icon={<DownloadOutlined aria-hidden />}
                  aria-label={t("page.certificateAria", { id: row.id })}
                  onClick={() => void download(row)}
                >
                  {t("page.certificate")}
                </Button>
              ),
            },
          ]}
        />
      )}
    </section>
  );
}

function RetentionSection() {
  const { t } = useTranslation("erasures");
  const { t: tc } = useTranslation("clients");
  const due = useDueErasures();
  const days = DUE_WITHIN_DAYS;

  let body;
  if (due.isPending) body = <Spin />;
  else if (due.isError) body = <ProblemAlert error={due.error} onRetry={() => void due.refetch()} />;
  else if (due.data.policy_years == null) body = <Alert type="info" showIcon message={t("page.noPolicy")} />;
  else
    body = (
      <>
        <Typography.Paragraph>{t("page.policyYears", { count: due.data.policy_years })}</Typography.Paragraph>
        <h3>{t("page.dueWithin", { days })}</h3>
        <Table<DueClient>
          rowKey="client_id"
          size="middle"
          dataSource={due.data.items}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: "max-content" }}
          locale={{ emptyText: t("page.noneDue", { days }) }}
          columns={[
            { key: "client", title: t("page.client"), render: (_, row) => <ClientLink id={row.client_id} /> },
            { key: "name", title: t("page.name"), dataIndex: "name" },
            { key: "status", title: t("page.status"), render: (_, row) => label(tc, "status", row.status) },
            { key: "due", title: t("page.dueAt"), render: (_, row) => formatDate(row.due_at) },
            {
              key: "blockers",
              title: t("page.blockers"),
              render: (_, row) =>
                row.blockers.length ? row.blockers.map((blocker) => <Tag key={blocker} color="orange">{blocker}</Tag>) : t("page.notBlocked"),
            },
          ]}
        />
      </>
    );

  return (
    <section className="erasures-section" aria-labelledby="erasure-retention">
      <h2 id="erasure-retention">{t("page.retention")}</h2>
      {body}
    </section>
  );
}
