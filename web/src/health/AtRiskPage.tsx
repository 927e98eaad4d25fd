import { Empty, Segmented, Select, Space, Table, Tag, Typography } from "antd";
import type { ColumnsType } from "antd/es/table";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { useSession } from "../auth/session";
import { useUserChoices } from "../clients/clientsApi";
import { TIER_COLOURS } from "../clients/labels";
import { ProblemAlert } from "../ui/ProblemAlert";
import { HealthTag } from "./HealthBadge";
import { useAtRisk, type AtRiskItem, type AtRiskQuery } from "./healthApi";
import "./health.css";

const PAGE_SIZE = 20;

/** Clients at risk, lowest score first: an account manager's own, the firm's for those who see every
 * client (with an owner filter). The state lives in the address, like the client list's. */
export default function AtRiskPage() {
  const { t } = useTranslation("health");
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const [ownerSearch, setOwnerSearch] = useState("");
  const firmWide = can("clients:read_all");
  const owners = useUserChoices(ownerSearch, "account_manager");
  const query: AtRiskQuery = {
    page: Number(params.get("page")) || 1,
    page_size: PAGE_SIZE,
    band: params.get("band") === "watch" ? "watch" : "at_risk",
    ...(params.get("owner") ? { owner: params.get("owner")! } : {}),
  };
  const list = useAtRisk(query);
  const update = (changes: Record<string, string | undefined>) =>
    setParams((previous) => {
      const next = new URLSearchParams(previous);
      for (const [name, value] of Object.entries(changes)) {
        if (value) next.set(name, value);
        else next.delete(name);
      }
      if (!("page" in changes)) next.delete("page");
      return next;
    }, { replace: true });

  const columns: ColumnsType<AtRiskItem> = [
    { title: t("list.client"), dataIndex: "name", render: (name: string, item) => <Link to={`/clients/${item.client_id}`}>{name}</Link> },
    { title: t("list.score"), dataIndex: "score", width: 140, render: (_: number, item) => <HealthTag health={item} /> },
    { title: t("list.tier"), dataIndex: "tier", width: 70, responsive: ["sm"], render: (tier: string) => <Tag color={TIER_COLOURS[tier]}>{tier}</Tag> },
    { title: t("list.owner"), dataIndex: "owner", responsive: ["sm"], render: (owner?: string | null) => owner || "—" },
    {
      title: t("list.reasons"),
      dataIndex: "reasons",
      render: (reasons: AtRiskItem["reasons"]) => (
        <ul className="health-reasons">
          {reasons.filter((reason) => reason.points < 0).map((reason) => (
            <li key={reason.reason}>{reason.text} <span className="health-points">{reason.points}</span></li>
          ))}
        </ul>
      ),
    },
  ];

  return (
    <>
      <div className="page-head">
        <Typography.Title level={1} className="page-title">{t("list.title")}</Typography.Title>
      </div>
      <Space wrap className="health-filters" role="search" aria-label={t("list.filters")}>
        <Segmented
          aria-label={t("list.band")}
          value={query.band}
          onChange={(band) => update({ band: band === "watch" ? "watch" : undefined })}
          options={[
            { value: "at_risk", label: t("band.at_risk") },
            { value: "watch", label: t("band.watch") },
          ]}
        />
        {firmWide && (
          <Select
            aria-label={t("list.owner")}
            className="health-owner-filter"
            allowClear
            showSearch
            filterOption={false}
            onSearch={setOwnerSearch}
            placeholder={t("list.anyOwner")}
            value={query.owner}
            onChange={(owner) => update({ owner })}
            options={(owners.data ?? []).map((choice) => ({ value: choice.value, label: choice.label }))}
          />
        )}
      </Space>
      {list.isError ? (
        <ProblemAlert error={list.error} onRetry={() => void list.refetch()} />
      ) : (
        <Table<AtRiskItem>
          rowKey="client_id"
          size="middle"
          loading={list.isPending}
          columns={columns}
          dataSource={list.data?.items ?? []}
          locale={{ emptyText: <Empty description={t(firmWide ? "list.emptyFirm" : "list.emptyOwn")} /> }}
          pagination={{
            current: query.page,
            pageSize: PAGE_SIZE,
            total: list.data?.total ?? 0,
            showSizeChanger: false,
            onChange: (page) => update({ page: String(page) }),
            showTotal: (total) => t("list.total", { count: total }),
          }}
        />
      )}
    </>
  );
}
