// The session endpoints (POST/GET/DELETE /api/auth/session) and the password change.
import { api, unwrap } from "../api/client";
import type { SessionBody } from "./types";

export const sessionApi = {
  current: async (): Promise<SessionBody> => unwrap(await api.GET("/api/auth/session")),
  /** `otp`: the second factor's code (or a recovery code), for an account that has one. */
  login: async (username: string, password: string, otp?: string): Promise<SessionBody> =>
    unwrap(await api.POST("/api/auth/session", { body: otp ? { username, password, otp } : { username, password } })),
  logout: async (): Promise<void> => {
    await api.DELETE("/api/auth/session");
  },
  /** Starts adding a second factor: the secret (shown this once) and its otpauth:// URI. */
  startSecondFactor: async () => unwrap(await api.POST("/api/me/totp")),
  /** Confirms it with a first code; answers the recovery codes, shown this once. */
  confirmSecondFactor: async (code: string): Promise<string[]> =>
    unwrap(await api.POST("/api/me/totp/confirm", { body: { code } })).recovery_codes,
  /** Turns the second factor off, with the password and a code (or a recovery code). */
  disableSecondFactor: async (password: string, code: string): Promise<void> => {
    await api.DELETE("/api/me/totp", { body: { password, code } });
  },
  /** New recovery codes (the old ones stop working), with the password and a current code; shown this once. */
  newRecoveryCodes: async (password: string, code: string): Promise<string[]> =>
    unwrap(await api.POST("/api/me/totp/recovery-codes", { body: { password, code } })).recovery_codes,
  /** Changes the password; the server then ends every session of the account, this one included. */
  changePassword: async (currentPassword: string, newPassword: string): Promise<void> => {
    await api.POST("/api/me/password", { body: { current_password: currentPassword, new_password: newPassword } });
  },
};
