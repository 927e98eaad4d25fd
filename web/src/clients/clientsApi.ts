// The client records' server state: one query key per thing shown, all through TanStack Query.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import type { components, paths } from "../api/schema";

type Schemas = components["schemas"];
export type Client = Schemas["Client"];
export type Contact = Schemas["Contact"];
export type Engagement = Schemas["Engagement"];
export type ServiceRequest = Schemas["ServiceRequest"];
export type Complaint = Schemas["Complaint"];
export type Feedback = Schemas["Feedback"];
export type TimelineEvent = Schemas["TimelineEvent"];
export type OptOut = Schemas["OptOut"];
export type Instance = Schemas["Instance"];
export type Task = Schemas["Task"] & { subject?: string | null; process_name?: string | null };
export type ClientListQuery = NonNullable<paths["/api/clients"]["get"]["parameters"]["query"]>;

/** The kinds of records kept under a client, as their path segment. */
export type RecordKind = "contacts" | "engagements" | "service-requests" | "complaints" | "feedback" | "care-dates";

export const clientKeys = {
  all: ["clients"] as const,
  list: (query: ClientListQuery) => ["clients", "list", query] as const,
  one: (id: number) => ["clients", id] as const,
  records: (id: number, kind: RecordKind) => ["clients", id, "records", kind] as const,
  timeline: (id: number) => ["clients", id, "timeline"] as const,
  work: (id: number) => ["clients", id, "work"] as const,
  optOuts: (id: number) => ["clients", id, "opt-outs"] as const,
};

/** The languages mail to a client's people can be written in (the server's LOCALES). */
export const MAIL_LANGUAGES = ["en", "zh-CN"] as const;

export function useClientList(query: ClientListQuery) {
  return useQuery({
    queryKey: clientKeys.list(query),
    queryFn: async () => unwrap(await api.GET("/api/clients", { params: { query } })),
    placeholderData: keepPreviousData,
  });
}

export function useClient(id: number) {
  return useQuery({
    queryKey: clientKeys.one(id),
    queryFn: async () => unwrap(await api.GET("/api/clients/{client_id}", { params: { path: { client_id: id } } })),
    enabled: Number.isFinite(id),
  });
}

/* eslint-disable @typescript-eslint/no-explicit-any */
// The record paths share one shape; openapi-fetch types them one by one, so they go through one door.
const untyped = api as any;

export function useRecords<T>(clientId: number, kind: RecordKind) {
  return useQuery({
    queryKey: clientKeys.records(clientId, kind),
    queryFn: async () =>
      unwrap<{ items: T[]; total: number }>(
        await untyped.GET(`/api/clients/{client_id}/${kind}`, {
          params: { path: { client_id: clientId }, query: { page_size: 100 } },
        }),
      ),
  });
}

/** Create (no record id) or change a record under a client; refreshes the client's page after. */
/** What the client's people asked not to be sent (surveys, care mail). */
export function useOptOuts(clientId: number) {
  return useQuery({
    queryKey: clientKeys.optOuts(clientId),
    queryFn: async () =>
      unwrap(await api.GET("/api/clients/{client_id}/opt-outs", { params: { path: { client_id: clientId } } })),
  });
}

export function useSaveRecord(clientId: number, kind: RecordKind) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, body }: { id?: number; body: Record<string, unknown> }) =>
      id === undefined
        ? unwrap(await untyped.POST(`/api/clients/{client_id}/${kind}`, { params: { path: { client_id: clientId } }, body }))
        : unwrap(
            await untyped.PATCH(`/api/clients/{client_id}/${kind}/{record_id}`, {
              params: { path: { client_id: clientId, record_id: id } },
              body,
            }),
          ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: clientKeys.one(clientId) }),
  });
}

export function useTimeline(clientId: number) {
  return useQuery({
    queryKey: clientKeys.timeline(clientId),
    queryFn: async () =>
      unwrap(await api.GET("/api/clients/{client_id}/timeline", { params: { path: { client_id: clientId }, query: { limit: 100 } } })),
  });
}

export interface OpenWork {
  instances: Instance[];
  tasks: Task[];
}

/** The client's running processes (business key client:N) and their open tasks the person may see. */
export function useOpenWork(clientId: number) {
  return useQuery({
    queryKey: clientKeys.work(clientId),
    queryFn: async (): Promise<OpenWork> => {
      const page = unwrap(
        await api.GET("/api/process-instances", {
          params: { query: { business_key: `client:${clientId}`, status: "active", page_size: 50 } },
        }),
      );
      const instances = (page.items ?? []) as Instance[];
      const taskPages = await Promise.all(
        instances.map(async (instance) =>
          unwrap(await api.GET("/api/tasks", { params: { query: { instance_id: instance.id!, status: "open", page_size: 50 } } })),
        ),
      );
      return { instances, tasks: taskPages.flatMap((taskPage) => (taskPage.items ?? []) as Task[]) };
    },
  });
}

/** "/api/clients/export?format=xlsx&q=..": the same filters, search and sort as the list on screen. */
export function exportUrl(query: ClientListQuery, format: "csv" | "xlsx"): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "" || name === "page" || name === "page_size") continue;
    params.set(name, String(value));
  }
  params.set("format", format);
  return `/api/clients/export?${params.toString()}`;
}

export interface Choice {
  value: string;
  label: string;
}

/** People to pick from (GET /api/choices/users). */
export function useUserChoices(q: string, role?: string) {
  return useQuery({
    queryKey: ["choices", "users", q, role ?? ""],
    queryFn: async () => {
      const body = unwrap(await api.GET("/api/choices/users", { params: { query: { q: q || undefined, role } } }));
      return (body.items ?? []).map((item) => ({ value: String(item.value), label: String(item.label) }) as Choice);
    },
    staleTime: 60_000,
  });
}

/** One masked field of a client in full, for a stated reason (audited as client.reveal). The value is
 * kept by the caller for as long as the page is open, never in the query cache. */
export function useRevealField(clientId: number) {
  return useMutation({
    mutationFn: async ({ field, reason }: { field: string; reason: string }) =>
      unwrap(
        await api.POST("/api/clients/{client_id}/reveal", {
          params: { path: { client_id: clientId } },
          body: { field, reason },
        }),
      ),
  });
}
