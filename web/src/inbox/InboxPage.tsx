// The first screen after logging in: the person's tasks in three tabs, searchable, sortable,
// filterable by process and paged. Built from light pieces (no antd Table/Tabs/Select) so the
// first screen's JavaScript stays within its budget (README, "The web app").
import { useMemo, useRef, useState, type KeyboardEvent } from "react";
import { Button, Empty, Input, Spin, Typography } from "antd";
import { ReloadOutlined, SearchOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router-dom";
import { useSession } from "../auth/session";
import { ProblemAlert } from "../ui/ProblemAlert";
import { Pager } from "../ui/Pager";
import { useSearchAsTyped } from "../ui/useSearchAsTyped";
import { taskKeys, tasksApi, type InboxView, type TaskQuery, type TaskSort } from "../tasks/tasksApi";
import { TaskRow } from "./TaskRow";
import "./inbox.css";

const PAGE_SIZE = 25;
// Longer pages on request (?size=50), for people who work through a big queue.
const PAGE_SIZES = [25, 50, 100];
const SORTS: TaskSort[] = ["due", "-priority", "-created", "created"];

function useInboxQuery(): [TaskQuery, (change: Partial<TaskQuery>) => void] {
  const [params, setParams] = useSearchParams();
  const query: TaskQuery = {
    view: (["assigned", "offered", "all"].includes(params.get("tab") ?? "") ? params.get("tab") : "assigned") as InboxView,
    q: params.get("q") ?? "",
    process_key: params.get("process") ?? "",
    sort: (SORTS.includes(params.get("sort") as TaskSort) ? params.get("sort") : "due") as TaskSort,
    page: Math.max(1, Number(params.get("page")) || 1),
    page_size: PAGE_SIZES.includes(Number(params.get("size"))) ? Number(params.get("size")) : PAGE_SIZE,
  };
  const update = (change: Partial<TaskQuery>) => {
    const next = { ...query, page: 1, ...change };
    const out = new URLSearchParams();
    if (next.view !== "assigned") out.set("tab", next.view);
    if (next.q) out.set("q", next.q);
    if (next.process_key) out.set("process", next.process_key);
    if (next.sort !== "due") out.set("sort", next.sort);
    if (next.page > 1) out.set("page", String(next.page));
    if (next.page_size !== PAGE_SIZE) out.set("size", String(next.page_size));
    setParams(out, { replace: true });
  };
  return [query, update];
}

export function InboxPage() {
  const { t, i18n } = useTranslation("inbox");
  const { can } = useSession();
  const [query, update] = useInboxQuery();
  const views: InboxView[] = can("tasks:read_all") ? ["assigned", "offered", "all"] : ["assigned", "offered"];
  const view = views.includes(query.view) ? query.view : "assigned";
  const listQuery = { ...query, view };

  const counts = useQuery({ queryKey: taskKeys.counts(), queryFn: tasksApi.counts });
  const tasks = useQuery({
    queryKey: taskKeys.list(listQuery),
    queryFn: () => tasksApi.list(listQuery),
    placeholderData: keepPreviousData,
  });
  const processes = useQuery({ queryKey: ["process-definitions", i18n.language], queryFn: tasksApi.definitions, staleTime: 300_000 });

  // The search box answers as the person types, once they pause.
  const [search, setSearch] = useState(query.q ?? "");
  useSearchAsTyped(search, query.q ?? "", (q) => update({ q }));

  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});
  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>, index: number) => {
    const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    event.preventDefault();
    const next = views[(index + step + views.length) % views.length];
    update({ view: next });
    tabRefs.current[next]?.focus();
  };

  const filtered = !!(query.q || query.process_key);
  const processOptions = useMemo(
    () => (processes.data?.items ?? []).map((definition) => ({ value: definition.process_key ?? definition.key ?? "", label: definition.name })),
    [processes.data],
  );

  return (
    <section className="inbox" aria-labelledby="inbox-title">
      <div className="inbox-head">
        <Typography.Title level={1} className="page-title" id="inbox-title">{t("title")}</Typography.Title>
        <Button icon={<ReloadOutlined aria-hidden />} onClick={() => { void tasks.refetch(); void counts.refetch(); }}>
          {t("refresh")}
        </Button>
      </div>

      <div role="tablist" aria-label={t("tabs.label")} className="inbox-tabs">
        {views.map((name, index) => {
          const count = counts.data?.[name];
          return (
            <button
              key={name}
              ref={(element) => { tabRefs.current[name] = element; }}
              type="button"
              role="tab"
              id={`inbox-tab-${name}`}
              aria-selected={view === name}
              aria-controls="inbox-panel"
              tabIndex={view === name ? 0 : -1}
              className={"inbox-tab" + (view === name ? " active" : "")}
              onClick={() => update({ view: name })}
              onKeyDown={(event) => onTabKey(event, index)}
            >
              <span>{t(`tabs.${name}`)}</span>
              {count !== undefined && count !== null && <span className="inbox-count" aria-label={t("tabs.count", { count })}>{count}</span>}
            </button>
          );
        })}
      </div>

      <div id="inbox-panel" role="tabpanel" aria-labelledby={`inbox-tab-${view}`}>
        <div className="inbox-toolbar">
          <Input
            className="inbox-search"
            allowClear
            prefix={<SearchOutlined aria-hidden />}
            placeholder={t("search.placeholder")}
            aria-label={t("search.label")}
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
          <label className="inbox-select">
            <span>{t("filter.process")}</span>
            <select value={query.process_key} onChange={(event) => update({ process_key: event.target.value })}>
              <option value="">{t("filter.allProcesses")}</option>
              {processOptions.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
            </select>
          </label>
          <label className="inbox-select">
            <span>{t("sort.label")}</span>
            <select value={query.sort} onChange={(event) => update({ sort: event.target.value as TaskSort })}>
              {SORTS.map((sort) => <option key={sort} value={sort}>{t(`sort.${sort}`)}</option>)}
            </select>
          </label>
        </div>

        {tasks.isError && <ProblemAlert error={tasks.error} onRetry={() => void tasks.refetch()} />}
        {tasks.isPending && <div className="page-loading"><Spin tip={t("loading")}><div /></Spin></div>}
        {tasks.data && tasks.data.items.length === 0 && (
          <Empty
            className="inbox-empty"
            image={Empty.PRESENTED_IMAGE_SIMPLE}
            description={
              <>
                <Typography.Text strong>{filtered ? t("empty.filteredTitle") : t(`empty.${view}Title`)}</Typography.Text>
                <br />
                <Typography.Text type="secondary">{filtered ? t("empty.filteredBody") : t(`empty.${view}Body`)}</Typography.Text>
              </>
            }
          >
            {filtered && <Button onClick={() => { setSearch(""); update({ q: "", process_key: "" }); }}>{t("empty.clear")}</Button>}
          </Empty>
        )}
        {tasks.data && tasks.data.items.length > 0 && (
          <>
            <p className="inbox-summary" aria-live="polite">
              {t("summary", {
                from: (tasks.data.page - 1) * tasks.data.page_size + 1,
                to: (tasks.data.page - 1) * tasks.data.page_size + tasks.data.items.length,
                total: tasks.data.total,
              })}
            </p>
            <ul className="inbox-list" aria-label={t(`tabs.${view}`)} aria-busy={tasks.isFetching}>
              {tasks.data.items.map((task) => <TaskRow key={task.id} task={task} view={view} />)}
            </ul>
            <Pager page={query.page} pageSize={query.page_size} total={tasks.data.total} label={t("pager.label")}
              onChange={(page) => { update({ page }); window.scrollTo(0, 0); }} />
          </>
        )}
      </div>
    </section>
  );
}
