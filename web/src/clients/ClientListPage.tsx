import { useMemo, useState } from "react";
import { Button, Empty, Input, Select, Space, Table, Tag, Tooltip, Typography } from "antd";
import type { ColumnsType, TablePaginationConfig } from "antd/es/table";
import { DownloadOutlined, PlusOutlined } from "@ant-design/icons";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router-dom";
import { useSession } from "../auth/session";
import { ProblemAlert } from "../ui/ProblemAlert";
import { formatDate } from "../ui/format";
import { useSearchAsTyped } from "../ui/useSearchAsTyped";
import { exportUrl, useClientList, useUserChoices, type Client, type ClientListQuery } from "./clientsApi";
import "./clients.css";
import { SORTS, STATUSES, STATUS_COLOURS, TIERS, TIER_COLOURS, label } from "./labels";

const PAGE_SIZE = 20;

/** The list's state lives in the address, so a shared link, a reload or Back shows the same clients. */
function useListQuery(): [ClientListQuery, (changes: Partial<Record<keyof ClientListQuery, string | number | undefined>>) => void] {
  const [params, setParams] = useSearchParams();
  const query = useMemo<ClientListQuery>(() => {
    const value: ClientListQuery = { page: Number(params.get("page")) || 1, page_size: PAGE_SIZE };
    for (const name of ["q", "tier", "status", "owner", "tag", "sort"] as const) {
      const given = params.get(name);
      if (given) (value as Record<string, unknown>)[name] = given;
    }
    return value;
  }, [params]);
  const update = (changes: Partial<Record<keyof ClientListQuery, string | number | undefined>>) => {
    setParams(
      (previous) => {
        const next = new URLSearchParams(previous);
        for (const [name, value] of Object.entries(changes)) {
          if (value === undefined || value === "" || value === null) next.delete(name);
          else next.set(name, String(value));
        }
        // A new search or filter starts from its first page.
        if (!("page" in changes)) next.delete("page");
        return next;
      },
      { replace: true },
    );
  };
  return [query, update];
}

export default function ClientListPage() {
  const { t } = useTranslation("clients");
  const { can } = useSession();
  const [query, update] = useListQuery();
  const [typed, setTyped] = useState(query.q ?? "");
  const [tag, setTag] = useState(query.tag ?? "");
  const [ownerSearch, setOwnerSearch] = useState("");
  const owners = useUserChoices(ownerSearch, "account_manager");
  const list = useClientList(query);

  useSearchAsTyped(typed, query.q ?? "", (q) => update({ q: q || undefined }));

  const filtered = !!(query.q || query.tier || query.status || query.owner || query.tag);
  const columns: ColumnsType<Client> = [
    {
      title: t("field.name"),
      dataIndex: "name",
      render: (name: string, client) => <Link to={`/clients/${client.id}`}>{name}</Link>,
    },
    {
      title: t("field.tier"),
      dataIndex: "tier",
      width: 80,
      render: (tier: string) => <Tag color={TIER_COLOURS[tier]}>{label(t, "tierShort", tier)}</Tag>,
    },
    {
      title: t("field.status"),
      dataIndex: "status",
      width: 110,
      render: (status: string) => <Tag color={STATUS_COLOURS[status]}>{label(t, "status", status)}</Tag>,
    },
    {
      title: t("field.phones"),
      dataIndex: "phones",
      responsive: ["sm"],
      render: (phones?: string[]) => phones?.[0] ?? "—",
    },
    { title: t("field.owner"), dataIndex: "owner", render: (owner?: string | null) => owner || "—" },
    { title: t("field.industry"), dataIndex: "industry", responsive: ["md"], render: (value?: string | null) => value || "—" },
    {
      title: t("field.tags"),
      dataIndex: "tags",
      responsive: ["lg"],
      render: (tags?: string[]) => (tags ?? []).map((tag) => <Tag key={tag}>{tag}</Tag>),
    },
    { title: t("field.updated"), dataIndex: "updated_at", responsive: ["md"], render: (value?: string) => formatDate(value) },
  ];

  const total = list.data?.total ?? 0;
  const totalExact = (list.data as { total_exact?: boolean } | undefined)?.total_exact !== false;
  const pagination: TablePaginationConfig = {
    current: query.page,
    pageSize: PAGE_SIZE,
    total,
    showSizeChanger: false,
    showTotal: (count, [from, to]) => t(totalExact ? "list.total" : "list.totalMore", { from, to, total: count }),
  };

  return (
    <>
      <div className="page-head">
        <Typography.Title level={1} className="page-title">{t("list.title")}</Typography.Title>
        <Space wrap>
          {can("clients:export") && (
            <Tooltip title={t("list.exportHint")}>
              <Space.Compact>
                <Button icon={<DownloadOutlined aria-hidden />} href={exportUrl(query, "xlsx")} download>
                  {t("list.exportXlsx")}
                </Button>
                <Button href={exportUrl(query, "csv")} download>{t("list.exportCsv")}</Button>
              </Space.Compact>
            </Tooltip>
          )}
          {can("clients:write") && (
            <Link to="/clients/new">
              <Button type="primary" icon={<PlusOutlined aria-hidden />}>{t("list.newClient")}</Button>
            </Link>
          )}
        </Space>
      </div>

      <div className="client-filters" role="search" aria-label={t("list.filters")}>
        <Input.Search
          className="client-search"
          aria-label={t("list.search")}
          placeholder={t("list.searchPlaceholder")}
          allowClear
          value={typed}
          onChange={(event) => setTyped(event.target.value)}
          onSearch={(value) => update({ q: value.trim() || undefined })}
          loading={list.isFetching && !!typed}
        />
        <Select
          aria-label={t("list.tier")}
          className="client-filter"
          allowClear
          placeholder={t("list.anyTier")}
          value={query.tier}
          onChange={(tier) => update({ tier })}
          options={TIERS.map((tier) => ({ value: tier, label: label(t, "tier", tier) }))}
        />
        <Select
          aria-label={t("list.status")}
          className="client-filter"
          allowClear
          placeholder={t("list.anyStatus")}
          value={query.status}
          onChange={(status) => update({ status })}
          options={STATUSES.map((status) => ({ value: status, label: label(t, "status", status) }))}
        />
        <Select
          aria-label={t("list.owner")}
          className="client-filter"
          allowClear
          showSearch
          filterOption={false}
          onSearch={setOwnerSearch}
          placeholder={t("list.anyOwner")}
          value={query.owner}
          onChange={(owner) => update({ owner })}
          options={[
            { value: "me", label: t("list.ownerMine") },
            ...(owners.data ?? []).map((choice) => ({ value: choice.value, label: choice.label })),
          ]}
        />
        <Input
          aria-label={t("list.tag")}
          className="client-filter"
          placeholder={t("list.tagPlaceholder")}
          allowClear
          value={tag}
          onChange={(event) => {
            setTag(event.target.value);
            if (!event.target.value) update({ tag: undefined });
          }}
          onPressEnter={() => update({ tag: tag.trim() || undefined })}
          onBlur={() => update({ tag: tag.trim() || undefined })}
        />
        <Select
          aria-label={t("list.sort")}
          className="client-filter"
          value={query.sort ?? "name"}
          onChange={(sort) => update({ sort: sort === "name" ? undefined : sort })}
          options={SORTS.map((sort) => ({ value: sort, label: t(`sortOptions.${sort}`) }))}
        />
        {filtered && (
          <Button
            type="link"
            onClick={() => {
              setTyped("");
              setTag("");
              update({ q: undefined, tier: undefined, status: undefined, owner: undefined, tag: undefined });
            }}
          >
            {t("list.clearFilters")}
          </Button>
        )}
      </div>

      {list.isError && <ProblemAlert error={list.error} onRetry={() => void list.refetch()} />}
      <Table<Client>
        aria-label={t("list.table")}
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={list.data?.items ?? []}
        // Faded only while it shows the previous search's rows, not on a quiet refresh.
        loading={list.isPending || (list.isFetching && list.isPlaceholderData)}
        pagination={pagination}
        onChange={(next) => update({ page: next.current && next.current > 1 ? next.current : undefined })}
        scroll={{ x: "max-content" }}
        locale={{
          emptyText: (
            <Empty
              description={
                <>
                  <div>{t(filtered ? "list.emptyFiltered" : "list.empty")}</div>
                  <Typography.Text type="secondary">{t(filtered ? "list.emptyFilteredHint" : "list.emptyHint")}</Typography.Text>
                </>
              }
            />
          ),
        }}
      />
    </>
  );
}
