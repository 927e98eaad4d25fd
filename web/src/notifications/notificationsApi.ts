// The bell's server state: the unread count (polled) and the unread list, marked read one by one or all.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";

export interface NotificationLink {
  kind: "task" | "client" | "instance";
  id: string | number;
}

export interface MyNotification {
  id: number;
  kind: string;
  subject: string;
  body: string;
  created_at: string;
  read_at: string | null;
  link: NotificationLink | null;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
// Typed by hand: the bell's endpoints are not in every generated schema this screen is built against.
const client = api as any;
const UNREAD_COUNT = ["notifications", "unread-count"];
const UNREAD_LIST = ["notifications", "unread"];
export const PANEL_PAGE_SIZE = 20;

export function useUnreadCount(enabled: boolean) {
  return useQuery({
    queryKey: UNREAD_COUNT,
    queryFn: async () => unwrap<{ count: number }>(await client.GET("/api/me/notifications/unread-count")).count,
    enabled,
    refetchInterval: 60_000,
    staleTime: 30_000,
  });
}

export function useUnreadNotifications() {
  return useQuery({
    queryKey: UNREAD_LIST,
    queryFn: async () =>
      unwrap<{ items: MyNotification[]; total: number }>(
        await client.GET("/api/me/notifications", { params: { query: { unread: true, page_size: PANEL_PAGE_SIZE } } }),
      ),
  });
}

export function useMarkRead() {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["notifications"] });
  const one = useMutation({
    mutationFn: async (id: number) => unwrap(await client.POST("/api/me/notifications/{id}/read", { params: { path: { id } } })),
    onSuccess: refresh,
  });
  const all = useMutation({
    mutationFn: async () => {
      await client.POST("/api/me/notifications/read-all");
    },
    onSuccess: refresh,
  });
  return { one, all };
}

/** Where a notification leads in the app, or null when it concerns nothing the app shows. */
export function linkPath(link: NotificationLink | null): string | null {
  if (!link) return null;
  if (link.kind === "task") return `/tasks/${link.id}`;
  if (link.kind === "client") return `/clients/${link.id}`;
  return null;
}
