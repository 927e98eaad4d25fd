// Numbers, amounts, dates and due times in the reader's language (¥42,000 / 2026年11月29日).
import i18n from "../i18n";

const locale = () => i18n.language || "en";

export function formatMoney(amount: number | null | undefined, currency = "CNY"): string {
  if (amount === null || amount === undefined || Number.isNaN(amount)) return "—";
  return new Intl.NumberFormat(locale(), {
    style: "currency",
    currency,
    currencyDisplay: "narrowSymbol",
    maximumFractionDigits: Number.isInteger(amount) ? 0 : 2,
  }).format(amount);
}

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(locale()).format(value);
}

export function formatDate(value: string | Date | null | undefined): string {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "long" }).format(new Date(value));
}

export function formatDateTime(value: string | Date | null | undefined): string {
  if (!value) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(value));
}

const UNITS: Array<[Intl.NumberFormatOptions["unit"], number]> = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
];

/** "3 days", "2 hours", "3天": the largest whole unit of a span. */
export function formatDuration(milliseconds: number): string {
  const span = Math.abs(milliseconds);
  for (const [unit, size] of UNITS) {
    if (span >= size || unit === "minute") {
      const count = Math.max(1, Math.floor(span / size));
      return new Intl.NumberFormat(locale(), { style: "unit", unit, unitDisplay: "long" }).format(count);
    }
  }
  return "";
}

export type DueState = "none" | "overdue" | "soon" | "later";

/** How urgent a due time is: overdue, within a day, or later. */
export function dueState(due: string | null | undefined, now = Date.now()): DueState {
  if (!due) return "none";
  const left = new Date(due).getTime() - now;
  if (left < 0) return "overdue";
  return left < 86_400_000 ? "soon" : "later";
}

/** "due in 2 hours", "overdue 3 days". */
export function formatDue(due: string | null | undefined, now = Date.now()): string {
  if (!due) return i18n.t("due.none");
  const left = new Date(due).getTime() - now;
  if (Math.abs(left) < 60_000) return i18n.t("due.now");
  const duration = formatDuration(left);
  return left < 0 ? i18n.t("due.overdue", { duration }) : i18n.t("due.in", { duration });
}
