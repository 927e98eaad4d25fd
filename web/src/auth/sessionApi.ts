// The session endpoints (POST/GET/DELETE /api/auth/session).
import { api, unwrap } from "../api/client";
import type { SessionBody } from "./types";

// The paths are typed once the generated schema has them; the bodies are SessionBody either way.
/* eslint-disable @typescript-eslint/no-explicit-any */
const client = api as any;

export const sessionApi = {
  current: async (): Promise<SessionBody> => unwrap(await client.GET("/api/auth/session")),
  login: async (username: string, password: string): Promise<SessionBody> =>
    unwrap(await client.POST("/api/auth/session", { body: { username, password } })),
  logout: async (): Promise<void> => {
    await client.DELETE("/api/auth/session");
  },
};
