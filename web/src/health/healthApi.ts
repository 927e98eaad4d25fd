// Client health: one client's score and reasons, and the at-risk list, through TanStack Query.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, ProblemError, unwrap } from "../api/client";
import type { components, paths } from "../api/schema";

export type ClientHealth = components["schemas"]["ClientHealth"];
export type AtRiskItem = components["schemas"]["AtRiskItem"];
export type AtRiskQuery = NonNullable<paths["/api/health/at-risk"]["get"]["parameters"]["query"]>;

/** Band colours: antd Tag presets, the same on the client page and the list. */
export const BAND_COLOURS: Record<string, string> = { healthy: "green", watch: "gold", at_risk: "red" };

/** A client's health, or null when it has none (a client that is not active is not scored). */
export function useClientHealth(clientId: number) {
  return useQuery({
    queryKey: ["clients", clientId, "health"],
    queryFn: async () => {
      try {
        return unwrap(await api.GET("/api/clients/{client_id}/health", { params: { path: { client_id: clientId } } }));
      } catch (error) {
        if (error instanceof ProblemError && error.problem.status === 404) return null;
        throw error;
      }
    },
    enabled: Number.isFinite(clientId),
  });
}

export function useAtRisk(query: AtRiskQuery) {
  return useQuery({
    queryKey: ["health", "at-risk", query],
    queryFn: async () => unwrap(await api.GET("/api/health/at-risk", { params: { query } })),
    placeholderData: keepPreviousData,
  });
}
