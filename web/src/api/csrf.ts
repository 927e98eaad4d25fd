// The CSRF token of the cookie session, kept in memory only (never in storage): the server
// gives it with the session and wants it back on every unsafe request.
let token: string | null = null;

export const csrf = {
  get: () => token,
  set: (value: string | null) => {
    token = value;
  },
};
