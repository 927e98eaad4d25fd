// The signed-in person and the browser session, as the server's OpenAPI document describes them.
import type { components } from "../api/schema";

export type SessionUser = components["schemas"]["Me"];
export type SessionBody = components["schemas"]["Session"];
