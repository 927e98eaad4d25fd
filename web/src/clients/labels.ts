// Enum values as the reader's language says them; an unknown value shows as it came.
import type { TFunction } from "i18next";

export const TIERS = ["A", "B", "C"] as const;
export const STATUSES = ["prospect", "active", "dormant", "former"] as const;
export const KINDS = ["organisation", "person"] as const;
export const SORTS = ["name", "-name", "-created", "created", "-updated", "tier", "-tier"] as const;

export const STATUS_COLOURS: Record<string, string> = {
  prospect: "blue", active: "green", dormant: "orange", former: "default",
};
export const TIER_COLOURS: Record<string, string> = { A: "gold", B: "geekblue", C: "default" };

/** t("clients:<group>.<value>"), falling back to the value itself. */
export function label(t: TFunction, group: string, value: string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  return t(`${group}.${value}`, { ns: "clients", defaultValue: value });
}
