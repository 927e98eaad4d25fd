// Erasure of clients' personal data (admins): requests, confirmations, certificates and the retention
// preview, all through TanStack Query.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { clientKeys } from "../clients/clientsApi";

export type Erasure = components["schemas"]["Erasure"];
export type DueClient = components["schemas"]["DueClient"];
export type ErasureStatus = "requested" | "done" | "withdrawn";

/** The server's reason limits (atrium/erasure.py REASON_MIN / REASON_MAX). */
export const REASON_MIN = 10;
export const REASON_MAX = 1000;
/** How far ahead the retention preview looks, in days. */
export const DUE_WITHIN_DAYS = 30;

export const erasureKeys = {
  all: ["erasures"] as const,
  list: (status: ErasureStatus) => ["erasures", "list", status] as const,
  due: (withinDays: number) => ["erasures", "due", withinDays] as const,
};

export function useErasures(status: ErasureStatus) {
  return useQuery({
    queryKey: erasureKeys.list(status),
    queryFn: async () => unwrap(await api.GET("/api/erasures", { params: { query: { status } } })).items,
  });
}

export function useDueErasures(withinDays = DUE_WITHIN_DAYS) {
  return useQuery({
    queryKey: erasureKeys.due(withinDays),
    queryFn: async () => unwrap(await api.GET("/api/erasures/due", { params: { query: { within_days: withinDays } } })),
  });
}

/** Ask to erase a client; the answer's status says whether it waits for a second admin ("requested") or is "done". */
export function useRequestErasure(clientId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (reason: string) =>
      unwrap(await api.POST("/api/clients/{client_id}/erase", { params: { path: { client_id: clientId } }, body: { reason } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: erasureKeys.all });
      void queryClient.invalidateQueries({ queryKey: clientKeys.all });
    },
  });
}

/** Confirm (the client is erased now) or withdraw a request. */
export function useDecideErasure(decision: "confirm" | "withdraw") {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (erasureId: number) =>
      unwrap(
        decision === "confirm"
          ? await api.POST("/api/erasures/{erasure_id}/confirm", { params: { path: { erasure_id: erasureId } } })
          : await api.POST("/api/erasures/{erasure_id}/withdraw", { params: { path: { erasure_id: erasureId } } }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: erasureKeys.all });
      void queryClient.invalidateQueries({ queryKey: clientKeys.all });
    },
  });
}

/** Fetch the certificate (in the app's language, sent as Accept-Language) and save it as a file. */
export async function downloadCertificate(erasureId: number): Promise<void> {
  const blob = unwrap(
    await api.GET("/api/erasures/{erasure_id}/certificate.pdf", {
      params: { path: { erasure_id: erasureId } },
      parseAs: "blob",
    }),
  ) as Blob;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `erasure-${erasureId}-certificate.pdf`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
