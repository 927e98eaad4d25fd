import { Card, Empty, Spin, Statistic, Table, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import i18next from "../i18n";
import { ProblemAlert } from "../ui/ProblemAlert";
import { formatDate } from "../ui/format";
import { STATE_COLOURS, useClientBilling, type BillingInvoice, type ClientBilling } from "./billingApi";
import "./billing.css";

/** An amount (a decimal string from the API) in the reader's language and the currency: ¥14,300.00. */
export function formatAmount(amount: string | number | null | undefined, currency: string): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  const value = Number(amount);
  if (Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(i18next.language || "en", {
    style: "currency",
    currency,
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  }).format(value);
}

type EngagementRow = {
  key: string;
  engagement: string;
  currency: string;
  billed: string;
  paid: string;
  outstanding: string;
  overdue: string;
  unbilledHours: string;
  unbilledValue: string;
};

function engagementRows(data: ClientBilling): EngagementRow[] {
  return data.engagements.flatMap((engagement) => {
    const figures = engagement.figures.length
      ? engagement.figures
      : [{ currency: data.currency, billed: "0", paid: "0", outstanding: "0", overdue: "0" }];
    return figures.map((f, n) => ({
      key: `${engagement.engagement_id}-${f.currency}`,
      engagement: `${engagement.service_type}${engagement.description ? ` · ${engagement.description}` : ""}`,
      currency: f.currency,
      billed: f.billed,
      paid: f.paid,
      outstanding: f.outstanding,
      overdue: f.overdue,
      unbilledHours: n === 0 ? engagement.unbilled_hours : "0",
      unbilledValue: n === 0 ? engagement.unbilled_value : "0",
    }));
  });
}

/** The client page's billing tab: totals, a row per engagement and the invoices with their due dates and state. */
export function BillingSection({ clientId }: { clientId: number }) {
  const { t, i18n } = useTranslation("billing");
  const billing = useClientBilling(clientId);
  if (billing.isPending) return <Spin />;
  if (billing.isError) return <ProblemAlert error={billing.error} onRetry={() => void billing.refetch()} />;
  const data = billing.data;
  const money = (amount: string, currency: string) => formatAmount(amount, currency);
  const hours = (value: string) => t("hours", { hours: new Intl.NumberFormat(i18n.language).format(Number(value)) });
  const totals = data.totals.length
    ? data.totals
    : [{ currency: data.currency, billed: "0", paid: "0", outstanding: "0", overdue: "0" }];

  return (
    <div className="billing-section">
      <section aria-label={t("totals")}>
        {totals.map((total) => (
          <Card key={total.currency} size="small" className="billing-totals" title={data.totals.length > 1 ? total.currency : undefined}>
            <Statistic title={t("billed")} value={money(total.billed, total.currency)} />
            <Statistic title={t("paid")} value={money(total.paid, total.currency)} />
            <Statistic title={t("outstanding")} value={money(total.outstanding, total.currency)} />
            <Statistic
              title={t("overdue")}
              value={money(total.overdue, total.currency)}
              valueStyle={Number(total.overdue) > 0 ? { color: "#cf1322" } : undefined}
              className="billing-overdue"
            />
            <Statistic
              title={t("unbilledTime")}
              value={hours(data.unbilled_hours)}
              suffix={Number(data.unbilled_value) > 0 ? <span className="billing-unbilled-value">{money(data.unbilled_value, data.currency)}</span> : undefined}
            />
          </Card>
        ))}
        <Typography.Text type="secondary" className="billing-as-of">{t("asOf", { day: formatDate(data.as_of) })}</Typography.Text>
      </section>

      <Typography.Title level={2} className="billing-heading">{t("byEngagement")}</Typography.Title>
      <Table<EngagementRow>
        size="small"
        pagination={false}
        scroll={{ x: "max-content" }}
        aria-label={t("byEngagement")}
        dataSource={engagementRows(data)}
        locale={{ emptyText: <Empty description={t("noEngagements")} /> }}
        columns={[
          { title: t("engagement"), dataIndex: "engagement" },
          { title: t("billed"), dataIndex: "billed", align: "right", render: (v, r) => money(v, r.currency) },
          { title: t("paid"), dataIndex: "paid", align: "right", render: (v, r) => money(v, r.currency) },
          { title: t("outstanding"), dataIndex: "outstanding", align: "right", render: (v, r) => money(v, r.currency) },
          {
            title: t("overdue"),
            dataIndex: "overdue",
            align: "right",
            render: (v, r) => (Number(v) > 0 ? <Typography.Text type="danger">{money(v, r.currency)}</Typography.Text> : money(v, r.currency)),
          },
          { title: t("unbilledTime"), dataIndex: "unbilledHours", align: "right", render: (v) => hours(v) },
        ]}
      />

      <Typography.Title level={2} className="billing-heading">{t("invoices")}</Typography.Title>
      <Table<BillingInvoice>
        size="small"
        rowKey="id"
        pagination={false}
        scroll={{ x: "max-content" }}
        aria-label={t("invoices")}
        dataSource={data.invoices}
        locale={{ emptyText: <Empty description={t("noInvoices")} /> }}
        rowClassName={(invoice) => (invoice.state === "overdue" ? "billing-row-overdue" : "")}
        columns={[
          { title: t("number"), dataIndex: "number" },
          {
            title: t("state"),
            dataIndex: "state",
            render: (state, invoice) => (
              <Tag color={STATE_COLOURS[state] ?? "default"} data-state={state}>
                {state === "overdue" ? t("overdueDays", { count: invoice.days_overdue }) : t(`states.${state}`, { defaultValue: state })}
              </Tag>
            ),
          },
          { title: t("due"), dataIndex: "due_date", render: (v) => formatDate(v) },
          { title: t("total"), dataIndex: "total_amount", align: "right", render: (v, r) => money(v, r.currency) },
          { title: t("paid"), dataIndex: "paid_amount", align: "right", render: (v, r) => money(v, r.currency) },
          { title: t("issued"), dataIndex: "issue_date", render: (v) => formatDate(v) },
        ]}
      />
    </div>
  );
}
