// A client's billing (billed, paid, outstanding, overdue, unbilled time and its invoices) through TanStack Query.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";

export type ClientBilling = components["schemas"]["ClientBilling"];
export type BillingInvoice = components["schemas"]["Invoice"];

/** Invoice state colours: antd Tag presets (overdue in red). */
export const STATE_COLOURS: Record<string, string> = {
  paid: "green",
  partly_paid: "gold",
  overdue: "red",
  open: "blue",
  cancelled: "default",
};

export function useClientBilling(clientId: number) {
  return useQuery({
    queryKey: ["clients", clientId, "billing"],
    queryFn: async () =>
      unwrap(await api.GET("/api/clients/{client_id}/billing", { params: { path: { client_id: clientId } } })),
    enabled: Number.isFinite(clientId),
  });
}
