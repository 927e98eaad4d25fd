// Widgets for form fields that name a person ("format": "atrium-user", optional
// "x-atrium-role") or a client ("format": "atrium-client"): a searchable choice of the people or
// clients the person may pick, from GET /api/choices/users and /api/choices/clients.
import { useEffect, useState } from "react";
import { Select, Typography } from "antd";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";
import type { WidgetProps } from "@rjsf/utils";
import { tasksApi, type Choice } from "./tasksApi";

const SEARCH_DELAY_MS = 250;

function useDebounced(value: string): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), SEARCH_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [value]);
  return settled;
}

type Kind = "user" | "client";

function useChoices(kind: Kind, q: string, role: string | undefined, enabled: boolean) {
  return useQuery({
    queryKey: ["choices", kind, role ?? "", q],
    queryFn: () => (kind === "user" ? tasksApi.userChoices(q, role) : tasksApi.clientChoices(q)),
    enabled,
    staleTime: 60_000,
  });
}

/** The label of a value already chosen (a prefilled owner, the request's client). */
function useChosenLabel(kind: Kind, value: unknown, role: string | undefined): string | null {
  const present = value !== undefined && value !== null && value !== "";
  const byClient = useQuery({
    queryKey: ["client-name", value],
    queryFn: () => tasksApi.clientName(Number(value)),
    enabled: present && kind === "client",
    staleTime: 300_000,
    retry: false,
  });
  const byUser = useChoices("user", String(value ?? ""), role, present && kind === "user");
  if (!present) return null;
  if (kind === "client") return byClient.data?.name ?? null;
  return byUser.data?.items.find((item) => String(item.value) === String(value))?.label ?? null;
}

/** The name of a chosen person or client, as text (a client links to its page). */
export function ChosenName({ kind, value }: { kind: Kind; value: unknown }) {
  const label = useChosenLabel(kind, value, undefined);
  const text = label ?? String(value);
  return kind === "client" ? <Link to={`/clients/${value}`}>{text}</Link> : <>{text}</>;
}

function PickerWidget(kind: Kind) {
  return function Picker(props: WidgetProps) {
    const { id, value, onChange, onBlur, onFocus, disabled, readonly, schema, placeholder, label, required } = props;
    const { t } = useTranslation("tasks");
    const role = typeof schema["x-atrium-role"] === "string" ? (schema["x-atrium-role"] as string) : undefined;
    const [search, setSearch] = useState("");
    const q = useDebounced(search);
    const [open, setOpen] = useState(false);
    const choices = useChoices(kind, q, role, open && !readonly);
    const chosen = useChosenLabel(kind, value, role);

    if (readonly) {
      if (value === undefined || value === null || value === "") return <Typography.Text id={id}>{t("form.empty")}</Typography.Text>;
      return <Typography.Text id={id}><ChosenName kind={kind} value={value} /></Typography.Text>;
    }

    const options: Choice[] = [...(choices.data?.items ?? [])];
    if (value !== undefined && value !== null && value !== "" && !options.some((option) => option.value === value)) {
      options.unshift({ value, label: chosen ?? String(value) });
    }
    return (
      <Select
        id={id}
        showSearch
        allowClear={!required}
        value={value ?? undefined}
        placeholder={placeholder || (kind === "user" ? t("picker.userPlaceholder") : t("picker.clientPlaceholder"))}
        aria-label={label}
        filterOption={false}
        onSearch={setSearch}
        onDropdownVisibleChange={setOpen}
        loading={choices.isFetching}
        disabled={disabled}
        notFoundContent={choices.isFetching ? t("picker.searching") : t("picker.none")}
        options={options.map((option) => ({ value: option.value, label: option.label }))}
        onChange={(next) => onChange(next === undefined ? undefined : kind === "client" ? Number(next) : next)}
        onBlur={() => onBlur(id, value)}
        onFocus={() => onFocus(id, value)}
        style={{ width: "100%" }}
      />
    );
  };
}

export const AtriumUserWidget = PickerWidget("user");
export const AtriumClientWidget = PickerWidget("client");
