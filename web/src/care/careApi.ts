// A client's care dates and coming care occasions (GET/POST/DELETE /api/clients/{id}/care-dates,
// GET /api/clients/{id}/care-occasions), through TanStack Query.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { clientKeys } from "../clients/clientsApi";

export type CareDate = components["schemas"]["CareDate"];
export type Occasion = components["schemas"]["Occasion"];

export const careKeys = {
  occasions: (clientId: number) => ["clients", clientId, "care-occasions"] as const,
};

export function useCareOccasions(clientId: number) {
  return useQuery({
    queryKey: careKeys.occasions(clientId),
    queryFn: async () =>
      unwrap(await api.GET("/api/clients/{client_id}/care-occasions", { params: { path: { client_id: clientId } } })),
  });
}

/** Delete a care date; the client's page (its care dates and occasions) is fetched again after. */
export function useDeleteCareDate(clientId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (careDateId: number) =>
      unwrap(
        await api.DELETE("/api/clients/{client_id}/care-dates/{care_date_id}", {
          params: { path: { client_id: clientId, care_date_id: careDateId } },
        }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: clientKeys.one(clientId) }),
  });
}
