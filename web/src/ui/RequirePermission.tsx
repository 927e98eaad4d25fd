import type { ReactNode } from "react";
import { useSession } from "../auth/session";
import { ForbiddenPage } from "./ForbiddenPage";

/** A screen for an action the role may not take shows a friendly refusal, not a broken page. */
export function RequirePermission({ permission, children }: { permission: string; children: ReactNode }) {
  const { can } = useSession();
  return can(permission) ? <>{children}</> : <ForbiddenPage />;
}
