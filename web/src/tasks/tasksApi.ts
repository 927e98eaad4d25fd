// The inbox, task, choice and start endpoints (issue 11's contract). Typed by hand here, in one
// place, until every path is in the generated schema; the shapes follow the server's schemas.
import { api, unwrap } from "../api/client";
import i18n from "../i18n";

/* eslint-disable @typescript-eslint/no-explicit-any */
const client = api as any;

export type InboxView = "assigned" | "offered" | "all";
export type TaskSort = "due" | "-due" | "priority" | "-priority" | "created" | "-created";

export interface TaskSummary {
  id: string;
  name: string;
  subject?: string | null;
  process_key: string;
  process_name?: string | null;
  instance_id: string;
  assignee: string | null;
  candidate_groups: string[];
  candidate_users: string[];
  priority: number;
  due: string | null;
  created: string;
  status: string;
  completed_at?: string | null;
  completed_by?: string | null;
  client?: { id: number; name: string } | null;
  client_id?: number | null;
  client_name?: string | null;
  business_key?: string | null;
}

export interface JsonForm {
  name?: string;
  schema: Record<string, any>;
  ui_schema?: Record<string, any> | null;
}

export interface TaskDetail extends TaskSummary {
  form: JsonForm | null;
  data: Record<string, any>;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface TaskCounts {
  assigned: number;
  offered: number;
  all: number | null;
}

export interface TaskQuery {
  view: InboxView;
  q?: string;
  process_key?: string;
  sort: TaskSort;
  page: number;
  page_size: number;
}

export interface HistoryEntry {
  id: number;
  element_id: string | null;
  element_name: string | null;
  element_type: string | null;
  event: string;
  actor: string | null;
  at: string;
  detail: Record<string, any> | null;
}

export interface Choice {
  value: string | number;
  label: string;
}

export interface ProcessDefinition {
  key?: string;
  process_key: string;
  name: string;
  version?: number;
  description?: string | null;
  start_form: JsonForm | null;
}

export interface Instance {
  id: string;
  process_key: string;
  business_key: string | null;
  status: string;
  started_by: string | null;
  open_tasks?: TaskSummary[];
}

export interface StartedInstance extends Instance {
  open_tasks: TaskSummary[];
}

function clean(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined && value !== ""));
}

export const tasksApi = {
  list: async (query: TaskQuery): Promise<Page<TaskSummary>> =>
    unwrap(await client.GET("/api/tasks", { params: { query: clean({ ...query }) } })),
  counts: async (): Promise<TaskCounts> => unwrap(await client.GET("/api/tasks/counts")),
  definition: async (key: string): Promise<ProcessDefinition> =>
    unwrap(await client.GET("/api/process-definitions/{key}", { params: { path: { key } } })),
  get: async (id: string): Promise<TaskDetail> =>
    unwrap(await client.GET("/api/tasks/{task_id}", { params: { path: { task_id: id } } })),
  claim: async (id: string): Promise<TaskSummary> =>
    unwrap(await client.POST("/api/tasks/{task_id}/claim", { params: { path: { task_id: id } } })),
  unclaim: async (id: string): Promise<TaskSummary> =>
    unwrap(await client.POST("/api/tasks/{task_id}/unclaim", { params: { path: { task_id: id } } })),
  complete: async (id: string, data: Record<string, unknown>): Promise<TaskSummary> =>
    unwrap(await client.POST("/api/tasks/{task_id}/complete", { params: { path: { task_id: id } }, body: { data } })),
  history: async (instanceId: string): Promise<Page<HistoryEntry>> =>
    unwrap(await client.GET("/api/process-instances/{instance_id}/history", {
      params: { path: { instance_id: instanceId }, query: { page_size: 200 } },
    })),
  instance: async (instanceId: string): Promise<Instance> =>
    unwrap(await client.GET("/api/process-instances/{instance_id}", { params: { path: { instance_id: instanceId } } })),
  definitions: async (): Promise<Page<ProcessDefinition>> =>
    unwrap(await client.GET("/api/process-definitions", { params: { query: { page_size: 100 } } })),
  startable: async (): Promise<Page<ProcessDefinition>> =>
    unwrap(await client.GET("/api/process-definitions", { params: { query: { startable: true, page_size: 100 } } })),
  start: async (body: { process_key: string; variables: Record<string, unknown>; business_key?: string | null }): Promise<StartedInstance> =>
    unwrap(await client.POST("/api/process-instances", { body })),
  userChoices: async (q: string, role?: string): Promise<{ items: Choice[] }> =>
    unwrap(await client.GET("/api/choices/users", { params: { query: clean({ q, role }) } })),
  clientChoices: async (q: string): Promise<{ items: Choice[] }> =>
    unwrap(await client.GET("/api/choices/clients", { params: { query: clean({ q }) } })),
  clientName: async (id: number): Promise<{ id: number; name: string }> =>
    unwrap(await client.GET("/api/clients/{client_id}", { params: { path: { client_id: id } } })),
};

/** Query keys, so a completed task can refresh every inbox list and count at once. The server
 * localizes names, subjects and forms by Accept-Language, so the language is part of each key:
 * switching it fetches them again in the new language. */
export const taskKeys = {
  all: ["tasks"] as const,
  list: (query: TaskQuery) => ["tasks", "list", i18n.language, query] as const,
  counts: () => ["tasks", "counts"] as const,
  detail: (id: string) => ["tasks", "detail", i18n.language, id] as const,
};
