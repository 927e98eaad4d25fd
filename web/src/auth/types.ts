// The signed-in person as GET /api/auth/session describes them. Written by hand until the
// session endpoints are in the generated schema; kept to the server's AccountSchema.
export interface SessionUser {
  username: string;
  display_name?: string;
  email?: string | null;
  roles: string[];
  groups?: string[];
  locale?: string | null;
  permissions: string[];
}

export interface SessionBody {
  csrf_token: string;
  expires_at: string;
  user: SessionUser;
}
