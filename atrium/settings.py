"""Settings read from ATRIUM_* environment variables, with safe defaults for a first run."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'atrium.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    env: str = "development"
    secret_key: str | None = None
    processes_dir: Path = PROJECT_ROOT / "processes"
    forms_dir: Path = PROJECT_ROOT / "forms"
    # Wall-clock budget for one script or condition; a runaway loop becomes an incident.
    script_timeout_seconds: float = 2.0
    timer_poll_seconds: float = 1.0
    timer_batch_size: int = 100
    service_retries: int = 3
    service_backoff_seconds: float = 10.0
    token_ttl_seconds: int = 8 * 3600
    login_max_failures: int = 5
    login_lock_seconds: int = 15 * 60
    # Client imports are one transaction: these bound how long it holds its locks.
    import_max_rows: int = 5000
    import_max_bytes: int = 5 * 1024 * 1024

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("ATRIUM_DATABASE_URL") or defaults.database_url,
            env=env.get("ATRIUM_ENV", defaults.env),
            secret_key=env.get("ATRIUM_SECRET_KEY") or None,
            processes_dir=Path(env.get("ATRIUM_PROCESSES_DIR", defaults.processes_dir)),
            forms_dir=Path(env.get("ATRIUM_FORMS_DIR", defaults.forms_dir)),
            script_timeout_seconds=float(env.get("ATRIUM_SCRIPT_TIMEOUT", defaults.script_timeout_seconds)),
            timer_poll_seconds=float(env.get("ATRIUM_TIMER_POLL_SECONDS", defaults.timer_poll_seconds)),
            timer_batch_size=int(env.get("ATRIUM_TIMER_BATCH_SIZE", defaults.timer_batch_size)),
            service_retries=int(env.get("ATRIUM_SERVICE_RETRIES", defaults.service_retries)),
            service_backoff_seconds=float(env.get("ATRIUM_SERVICE_BACKOFF", defaults.service_backoff_seconds)),
            token_ttl_seconds=int(env.get("ATRIUM_TOKEN_TTL", defaults.token_ttl_seconds)),
            login_max_failures=int(env.get("ATRIUM_LOGIN_MAX_FAILURES", defaults.login_max_failures)),
            login_lock_seconds=int(env.get("ATRIUM_LOGIN_LOCK_SECONDS", defaults.login_lock_seconds)),
            import_max_rows=int(env.get("ATRIUM_IMPORT_MAX_ROWS", defaults.import_max_rows)),
            import_max_bytes=int(env.get("ATRIUM_IMPORT_MAX_BYTES", defaults.import_max_bytes)),
        )

    def signing_key(self) -> str:
        """The key that signs access tokens: ATRIUM_SECRET_KEY, or in development a random
        key kept in var/ so every worker process and restart shares it."""
        if self.secret_key:
            return self.secret_key
        self.check_production()
        path = PROJECT_ROOT / "var" / "dev-secret-key"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def check_production(self) -> None:
        """Refuse to run in production mode without a secret key."""
        if self.is_production and not self.secret_key:
            raise RuntimeError("ATRIUM_ENV=production requires ATRIUM_SECRET_KEY to be set")
