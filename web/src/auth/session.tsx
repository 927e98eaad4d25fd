// The browser session: an HttpOnly, SameSite=Strict cookie the script never sees, plus a CSRF
// token held in memory (README, "The web app"). A reload asks the server for the session again.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ProblemError, onSessionLost } from "../api/client";
import { csrf } from "../api/csrf";
import { sessionApi } from "./sessionApi";
import type { SessionBody, SessionUser } from "./types";
import { useLanguage } from "../i18n/useLanguage";
import { isLanguage } from "../i18n";

export type SignedOutReason = "expired" | "loggedOut" | null;

interface SessionContextValue {
  user: SessionUser | null;
  loading: boolean;
  signedOutReason: SignedOutReason;
  login: (username: string, password: string, otp?: string) => Promise<void>;
  logout: () => Promise<void>;
  can: (permission: string) => boolean;
}

const SessionContext = createContext<SessionContextValue | null>(null);
const SESSION_KEY = ["session"];

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const { applyLanguage } = useLanguage();
  const [signedOutReason, setSignedOutReason] = useState<SignedOutReason>(null);
  const session = useQuery({
    queryKey: SESSION_KEY,
    queryFn: async () => {
      try {
        return await sessionApi.current();
      } catch (error) {
        if (error instanceof ProblemError && error.problem.status === 401) return null;
        throw error;
      }
    },
    staleTime: Infinity,
    retry: false,
  });

  const adopt = useCallback(
    (body: SessionBody | null) => {
      csrf.set(body?.csrf_token ?? null);
      if (body && isLanguage(body.user.locale)) applyLanguage(body.user.locale);
    },
    [applyLanguage],
  );

  useEffect(() => adopt(session.data ?? null), [session.data, adopt]);

  const signOut = useCallback(
    (reason: SignedOutReason) => {
      csrf.set(null);
      setSignedOutReason(reason);
      queryClient.clear();
      queryClient.setQueryData(SESSION_KEY, null);
    },
    [queryClient],
  );

  useEffect(() => onSessionLost(() => signOut("expired")), [signOut]);

  const login = useCallback(
    async (username: string, password: string, otp?: string) => {
      const body = await sessionApi.login(username, password, otp);
      adopt(body);
      setSignedOutReason(null);
      queryClient.setQueryData(SESSION_KEY, body);
    },
    [adopt, queryClient],
  );

  const logout = useCallback(async () => {
    try {
      await sessionApi.logout();
    } finally {
      signOut("loggedOut");
    }
  }, [signOut]);

  const user = session.data?.user ?? null;
  const value = useMemo<SessionContextValue>(
    () => ({
      user,
      loading: session.isPending,
      signedOutReason,
      login,
      logout,
      can: (permission: string) => !!user?.permissions?.includes(permission),
    }),
    [user, session.isPending, signedOutReason, login, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}
