import { useState } from "react";
import { Button, Result, Space, Spin, Tabs, Tag, Typography } from "antd";
import { EditOutlined, ExclamationCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { ProblemError } from "../api/client";
import { useSession } from "../auth/session";
import { BillingSection } from "../billing/BillingSection";
import { EraseClientAction } from "../erasures/EraseClientAction";
import { ClientHealthBadge, ClientHealthCard } from "../health/HealthBadge";
import { ProblemAlert } from "../ui/ProblemAlert";
import { ClientDetails } from "./ClientDetails";
import { ClientTimeline } from "./ClientTimeline";
import { CareDatesSection } from "../care/CareDatesSection";
import { ComplaintsSection, NewComplaintModal } from "./ComplaintsSection";
import { ContactsSection } from "./ContactsSection";
import { EngagementsSection } from "./EngagementsSection";
import { FeedbackSection } from "./FeedbackSection";
import { OpenWork } from "./OpenWork";
import { NewServiceRequestModal, ServiceRequestsSection } from "./ServiceRequestsSection";
import { useClient } from "./clientsApi";
import { STATUS_COLOURS, TIER_COLOURS, label } from "./labels";
import "./clients.css";

const TABS = ["overview", "contacts", "engagements", "service-requests", "complaints", "feedback", "care", "billing", "timeline"] as const;
type TabKey = (typeof TABS)[number];

/** A client you may not see answers 404 like one that does not exist: the page says so kindly. */
export function ClientNotFound() {
  const { t } = useTranslation("clients");
  return (
    <Result
      status="404"
      title={<h1 className="page-title">{t("page.notFoundTitle")}</h1>}
      subTitle={t("page.notFoundBody")}
      extra={<Link to="/clients"><Button type="primary">{t("page.backToList")}</Button></Link>}
    />
  );
}

/** The 360 view of one client: details, people, work, requests, complaints, feedback and history. */
export default function ClientPage() {
  const { t } = useTranslation("clients");
  const { can } = useSession();
  const id = Number(useParams().clientId);
  const client = useClient(id);
  const [params, setParams] = useSearchParams();
  const tab: TabKey = (TABS as readonly string[]).includes(params.get("tab") ?? "") ? (params.get("tab") as TabKey) : "overview";
  const setTab = (next: string) => setParams(next === "overview" ? {} : { tab: next }, { replace: true });
  const [creating, setCreating] = useState<"service-request" | "complaint" | null>(null);

  if (!Number.isInteger(id) || (client.error instanceof ProblemError && client.error.problem.status === 404)) return <ClientNotFound />;
  if (client.isPending) return <div className="page-loading"><Spin /></div>;
  if (client.isError) return <ProblemAlert error={client.error} onRetry={() => void client.refetch()} />;

  const data = client.data;
  const canRecords = can("records:write");
  const openCreate = (what: "service-request" | "complaint") => {
    setCreating(what);
    setTab(what === "complaint" ? "complaints" : "service-requests");
  };

  return (
    <>
      <div className="client-header">
        <div>
          <Typography.Title level={1} className="page-title">{data.name}</Typography.Title>
          <div className="client-badges">
            <Tag color={TIER_COLOURS[data.tier ?? ""]}>{t("field.tier")}: {label(t, "tierShort", data.tier)}</Tag>
            <Tag color={STATUS_COLOURS[data.status ?? ""]}>{label(t, "status", data.status)}</Tag>
            <Tag>{label(t, "kind", data.kind)}</Tag>
            {data.owner && <Tag>{t("field.owner")}: {data.owner}</Tag>}
            <ClientHealthBadge clientId={id} />
          </div>
        </div>
        <Space wrap>
          {canRecords && (
            <Button type="primary" icon={<PlusOutlined aria-hidden />} onClick={() => openCreate("service-request")}>
              {t("page.newServiceRequest")}
            </Button>
          )}
          {canRecords && (
            <Button icon={<ExclamationCircleOutlined aria-hidden />} onClick={() => openCreate("complaint")}>
              {t("page.recordComplaint")}
            </Button>
          )}
          {can("clients:write") && (
            <Link to={`/clients/${id}/edit`}>
              <Button icon={<EditOutlined aria-hidden />}>{t("page.edit")}</Button>
            </Link>
          )}
          <EraseClientAction clientId={id} clientName={data.name} />
        </Space>
      </div>

      <Tabs
        activeKey={tab}
        onChange={setTab}
        aria-label={t("page.tabs")}
        items={[
          {
            key: "overview",
            label: t("page.overview"),
            children: (
              <>
                <ClientDetails key={data.id} client={data} />
                <ClientHealthCard clientId={id} />
                <OpenWork clientId={id} />
              </>
            ),
          },
          { key: "contacts", label: t("page.contacts"), children: <ContactsSection clientId={id} canWrite={canRecords} /> },
          { key: "engagements", label: t("page.engagements"), children: <EngagementsSection clientId={id} canWrite={canRecords} /> },
          {
            key: "service-requests",
            label: t("page.serviceRequests"),
            children: <ServiceRequestsSection clientId={id} canWrite={canRecords} onAdd={() => openCreate("service-request")} />,
          },
          {
            key: "complaints",
            label: t("page.complaints"),
            children: <ComplaintsSection clientId={id} canWrite={canRecords} onAdd={() => openCreate("complaint")} />,
          },
          { key: "feedback", label: t("page.feedback"), children: <FeedbackSection clientId={id} canWrite={canRecords} /> },
          { key: "care", label: t("care:section"), children: <CareDatesSection clientId={id} canWrite={canRecords} /> },
          { key: "billing", label: t("billing:tab"), children: <BillingSection clientId={id} /> },
          { key: "timeline", label: t("page.timeline"), children: <ClientTimeline clientId={id} /> },
        ]}
      />

      {creating === "service-request" && <NewServiceRequestModal clientId={id} clientName={data.name} onClose={() => setCreating(null)} />}
      {creating === "complaint" && <NewComplaintModal clientId={id} clientName={data.name} onClose={() => setCreating(null)} />}
    </>
  );
}
