"""Settings read from ATRIUM_* environment variables, with safe defaults for a first run."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'atrium.db'}"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


# How long a service request may take from receipt to resolution, by priority (ISO-8601 durations).
DEFAULT_SERVICE_REQUEST_SLA = {"urgent": "PT4H", "high": "P1D", "normal": "P3D", "low": "P5D"}
# How often each active client is followed up, by tier, and how long a follow-up may take before it is overdue.
DEFAULT_FOLLOW_UP_INTERVALS = {"A": "P1M", "B": "P3M", "C": "P6M"}
# The account codes of China's enterprise accounting standards' chart: 1122 应收账款, 6001 主营业务收入,
# 222101 应交税费-应交增值税(销项税额), 1002 银行存款.
DEFAULT_VOUCHER_ACCOUNTS = {"receivable": "1122", "revenue": "6001", "output_vat": "222101", "bank": "1002"}
_ACCOUNT_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,39}$")
# Tokens are signed with the secret key: shorter keys can be brute-forced from one token offline.
MIN_SECRET_KEY_BYTES = 32
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")


def _durations(env_name: str, text: str | None, defaults: dict[str, str]) -> dict[str, str]:
    """`urgent=PT4H,high=P1D` over the defaults; an unknown name or a malformed duration stops the start."""
    values = dict(defaults)
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, duration = (piece.strip() for piece in item.partition("="))
        if name not in defaults or not _DURATION.match(duration):
            raise ValueError(
                f"{env_name}: '{item}' is not NAME=ISO-8601 duration with NAME one of {', '.join(defaults)}"
            )
        values[name] = duration
    return values


def _duration(env_name: str, text: str) -> str:
    if not _DURATION.match(text):
        raise ValueError(f"{env_name}: '{text}' is not an ISO-8601 duration such as P14D")
    return text


def _positive(name: str, text: str | None, unit: str) -> int | None:
    """A whole number of at least 1 (`name`: the setting, for the error); unset or empty: None (forever)."""
    if text is None or not text.strip():
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name}: {text} is not a number of {unit} of at least 1")
    return number


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=_default_database_url)
    # Several nodes (issue 15): an optional read replica that reports and searches read from, and whether
    # `atrium serve` also runs the scheduler (timers, outbox, daily jobs) or leaves it to `atrium scheduler`.
    database_replica_url: str | None = None
    run_scheduler: bool = True
    env: str = "development"
    secret_key: str | None = None
    processes_dir: Path = PROJECT_ROOT / "processes"
    # The browser app's build (`make web` writes it); served at / by api/web_app.py.
    web_dir: Path = PROJECT_ROOT / "web" / "dist"
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
    # Mail: notifications are mailed when smtp_host is set, else they stay queued in the outbox.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "atrium@localhost"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0
    mail_max_attempts: int = 5
    mail_retry_seconds: float = 60.0
    # A complaint not acknowledged this long after it was received is escalated to a manager.
    complaint_acknowledge_hours: float = 24.0
    # A scheduled report run that fails is tried again after this delay, doubling, this many times in all.
    report_max_attempts: int = 3
    report_retry_seconds: float = 300.0
    # The firm's name on report covers.
    firm_name: str | None = None
    service_request_sla: dict = field(default_factory=lambda: dict(DEFAULT_SERVICE_REQUEST_SLA))
    follow_up_intervals: dict = field(default_factory=lambda: dict(DEFAULT_FOLLOW_UP_INTERVALS))
    follow_up_due: str = "P14D"
    # Client health bands (atrium/health.py): a score below `watch` is watched, below `at_risk` at risk.
    health_watch_below: int = 70
    health_at_risk_below: int = 40
    # Client imports are one transaction: these bound how long it holds its locks.
    import_max_rows: int = 5000
    import_max_bytes: int = 5 * 1024 * 1024
    # Login throttling, passwords and HTTP hardening (issue 10: #3, #6, #12, #13, #14).
    # Failed logins are counted per username+address, per username and per address; past its free
    # failures a scope answers 429 for a delay that doubles with each further failure, up to its cap.
    # login_max_failures / login_lock_seconds are the username+address scope's (and the address cap).
    login_username_max_failures: int = 20
    login_username_max_delay_seconds: int = 60
    login_address_max_failures: int = 100
    login_failure_window_seconds: int = 3600
    # How many reverse proxies in front set X-Forwarded-For/-Proto (0: none trusted; the peer is the client).
    trusted_proxy_hops: int = 0
    # Strict-Transport-Security max-age sent on requests that arrived over TLS (0: no HSTS header).
    hsts_max_age_seconds: int = 365 * 24 * 3600
    # Report schedules: the least time between two firings of one schedule, how many schedules one person
    # may keep, and the email domains (besides accounts' own addresses) reports may be mailed to.
    report_min_interval_seconds: float = 86400.0
    report_schedules_per_person: int = 10
    firm_email_domains: tuple[str, ...] = ()
    # Submitted data: start variables, message payloads and task data are each at most this many
    # bytes of JSON (422 naming the field); a request body well beyond it is refused unread (413).
    max_data_bytes: int = 64 * 1024
    # Script sandbox: each script worker process's address-space limit, and how many workers
    # (at most, started on demand) each server process keeps.
    script_memory_mb: int = 256
    script_workers: int = 4
    # Scheduled backups (atrium/backup.py): a 5-field cron expression in UTC (None: off), the folder the
    # archives go to, how many of them are kept (the oldest beyond are removed), and the passphrase that
    # encrypts them (None: not encrypted).
    backup_cron: str | None = None
    backup_dir: Path = PROJECT_ROOT / "var" / "backups"
    backup_keep: int = 7
    backup_passphrase: str | None = field(default=None, repr=False)
    # Encryption at rest (atrium/encryption.py): the master key in base64 (32 bytes), or a file holding it;
    # older master keys (comma-separated) still unwrap data keys until `atrium keys rotate` is done.
    master_key: str | None = None
    master_key_file: Path | None = None
    old_master_keys: tuple[str, ...] = ()
    # Masking by role (atrium/masking.py): accounts all of whose roles are listed here see clients' phones,
    # emails, addresses and sensitive custom fields masked.
    masked_roles: tuple[str, ...] = ("viewer", "service_desk")
    # Roles whose accounts must have a second factor (TOTP): until they enrol, a login opens only the
    # enrolment (ATRIUM_REQUIRE_TOTP_ROLES=admin,partner; empty: optional for everyone).
    require_totp_roles: tuple[str, ...] = ()
    # Audit rows older than this many days are purged daily behind a signed checkpoint (None: kept forever).
    audit_retention_days: int | None = None
    # Erasure (atrium/erasure.py): a second admin confirms each requested erasure unless this is off, and
    # deleted or former clients are erased after this many years (None: never automatically).
    erasure_confirmation: bool = True
    erase_after_years: int | None = None
    # Surveys (atrium/surveys.py): where the app is reached from outside (the links in survey mail), how
    # long a link works, when an unanswered survey is sent once more, how often an active client is asked
    # for its NPS, the scores at or below which the owner follows up, and the public endpoint's rate limits
    # (requests per window, per client address and per link).
    public_url: str = "http://localhost:8000"
    survey_link_days: int = 14
    survey_reminder: str = "P3D"
    survey_nps_months: int = 6
    survey_low_csat: int = 2
    survey_low_nps: int = 6
    survey_rate_window_seconds: int = 600
    survey_rate_per_address: int = 60
    survey_rate_per_link: int = 20
    # Integration accounts (atrium/integration_accounts.py): when a new key is made for an integration,
    # its older keys stop working this many hours later (0: only when revoked); and how long a caller's
    # Idempotency-Key is remembered (api/idempotency.py).
    api_key_rotation_grace_hours: float = 0.0
    idempotency_key_hours: float = 24.0
    # The finance package's chart of accounts for the voucher export (atrium/vouchers.py): accounts
    # receivable, revenue, output VAT and bank (ATRIUM_ACCOUNT_RECEIVABLE, _REVENUE, _OUTPUT_VAT, _BANK).
    voucher_accounts: dict = field(default_factory=lambda: dict(DEFAULT_VOUCHER_ACCOUNTS))
    # Event delivery (atrium/webhooks.py, atrium/amqp.py). Webhooks: tries before a delivery is dead-lettered,
    # the HTTP timeout, and whether subscriptions may point at loopback/private/link-local addresses and use
    # plain http there (off in production: development and tests only). The broker: no URL, no publishing.
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False
    amqp_url: str | None = None
    amqp_exchange: str = "atrium.events"
    # Billing (atrium/time_entries.py, atrium/billing.py): one time entry of more than this many hours waits
    # for the engagement's responsible partner; the currency invoice requests are made in; the hourly rate of
    # billable time on engagements not billed by the hour (0: their time is covered by the fee, not billed).
    time_approval_hours: Decimal = Decimal("8")
    billing_currency: str = "CNY"
    billing_hourly_rate: Decimal = Decimal("0")

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("ATRIUM_DATABASE_URL") or defaults.database_url,
            database_replica_url=env.get("ATRIUM_DATABASE_REPLICA_URL") or None,
            run_scheduler=_flag(env.get("ATRIUM_RUN_SCHEDULER"), defaults.run_scheduler),
            env=env.get("ATRIUM_ENV", defaults.env),
            secret_key=env.get("ATRIUM_SECRET_KEY") or None,
            processes_dir=Path(env.get("ATRIUM_PROCESSES_DIR", defaults.processes_dir)),
            web_dir=Path(env.get("ATRIUM_WEB_DIR", defaults.web_dir)),
            forms_dir=Path(env.get("ATRIUM_FORMS_DIR", defaults.forms_dir)),
            script_timeout_seconds=float(env.get("ATRIUM_SCRIPT_TIMEOUT", defaults.script_timeout_seconds)),
            timer_poll_seconds=float(env.get("ATRIUM_TIMER_POLL_SECONDS", defaults.timer_poll_seconds)),
            timer_batch_size=int(env.get("ATRIUM_TIMER_BATCH_SIZE", defaults.timer_batch_size)),
            service_retries=int(env.get("ATRIUM_SERVICE_RETRIES", defaults.service_retries)),
            service_backoff_seconds=float(env.get("ATRIUM_SERVICE_BACKOFF", defaults.service_backoff_seconds)),
            token_ttl_seconds=int(env.get("ATRIUM_TOKEN_TTL", defaults.token_ttl_seconds)),
            login_max_failures=int(env.get("ATRIUM_LOGIN_MAX_FAILURES", defaults.login_max_failures)),
            login_lock_seconds=int(env.get("ATRIUM_LOGIN_LOCK_SECONDS", defaults.login_lock_seconds)),
            smtp_host=env.get("ATRIUM_SMTP_HOST") or None,
            smtp_port=int(env.get("ATRIUM_SMTP_PORT", defaults.smtp_port)),
            smtp_user=env.get("ATRIUM_SMTP_USER") or None,
            smtp_password=env.get("ATRIUM_SMTP_PASSWORD") or None,
            smtp_from=env.get("ATRIUM_SMTP_FROM") or defaults.smtp_from,
            smtp_starttls=_flag(env.get("ATRIUM_SMTP_STARTTLS"), defaults.smtp_starttls),
            smtp_timeout_seconds=float(env.get("ATRIUM_SMTP_TIMEOUT", defaults.smtp_timeout_seconds)),
            mail_max_attempts=int(env.get("ATRIUM_MAIL_MAX_ATTEMPTS", defaults.mail_max_attempts)),
            mail_retry_seconds=float(env.get("ATRIUM_MAIL_RETRY_SECONDS", defaults.mail_retry_seconds)),
            complaint_acknowledge_hours=float(
                env.get("ATRIUM_COMPLAINT_ACKNOWLEDGE_HOURS", defaults.complaint_acknowledge_hours)
            ),
            report_max_attempts=int(env.get("ATRIUM_REPORT_MAX_ATTEMPTS", defaults.report_max_attempts)),
            report_retry_seconds=float(env.get("ATRIUM_REPORT_RETRY_SECONDS", defaults.report_retry_seconds)),
            firm_name=env.get("ATRIUM_FIRM_NAME") or None,
            service_request_sla=_durations(
                "ATRIUM_SERVICE_REQUEST_SLA", env.get("ATRIUM_SERVICE_REQUEST_SLA"), DEFAULT_SERVICE_REQUEST_SLA
            ),
            follow_up_intervals=_durations(
                "ATRIUM_FOLLOW_UP_INTERVALS", env.get("ATRIUM_FOLLOW_UP_INTERVALS"), DEFAULT_FOLLOW_UP_INTERVALS
            ),
            follow_up_due=_duration("ATRIUM_FOLLOW_UP_DUE", env.get("ATRIUM_FOLLOW_UP_DUE", defaults.follow_up_due)),
            health_watch_below=int(env.get("ATRIUM_HEALTH_WATCH_BELOW", defaults.health_watch_below)),
            health_at_risk_below=int(env.get("ATRIUM_HEALTH_AT_RISK_BELOW", defaults.health_at_risk_below)),
            import_max_rows=int(env.get("ATRIUM_IMPORT_MAX_ROWS", defaults.import_max_rows)),
            import_max_bytes=int(env.get("ATRIUM_IMPORT_MAX_BYTES", defaults.import_max_bytes)),
            # Login throttling, passwords and HTTP hardening
            login_username_max_failures=int(
                env.get("ATRIUM_LOGIN_USERNAME_MAX_FAILURES", defaults.login_username_max_failures)
            ),
            login_username_max_delay_seconds=int(
                env.get("ATRIUM_LOGIN_USERNAME_MAX_DELAY_SECONDS", defaults.login_username_max_delay_seconds)
            ),
            login_address_max_failures=int(
                env.get("ATRIUM_LOGIN_ADDRESS_MAX_FAILURES", defaults.login_address_max_failures)
            ),
            login_failure_window_seconds=int(
                env.get("ATRIUM_LOGIN_FAILURE_WINDOW_SECONDS", defaults.login_failure_window_seconds)
            ),
            trusted_proxy_hops=int(env.get("ATRIUM_TRUSTED_PROXY_HOPS", defaults.trusted_proxy_hops)),
            hsts_max_age_seconds=int(env.get("ATRIUM_HSTS_MAX_AGE", defaults.hsts_max_age_seconds)),
            # Report schedules
            report_min_interval_seconds=_seconds(
                "ATRIUM_REPORT_MIN_INTERVAL",
                env.get("ATRIUM_REPORT_MIN_INTERVAL"),
                defaults.report_min_interval_seconds,
            ),
            report_schedules_per_person=int(
                env.get("ATRIUM_REPORT_SCHEDULES_PER_PERSON", defaults.report_schedules_per_person)
            ),
            firm_email_domains=_domains(env.get("ATRIUM_FIRM_EMAIL_DOMAINS")),
            # Submitted data
            max_data_bytes=int(env.get("ATRIUM_MAX_DATA_BYTES", defaults.max_data_bytes)),
            # Script sandbox
            script_memory_mb=int(env.get("ATRIUM_SCRIPT_MEMORY_MB", defaults.script_memory_mb)),
            script_workers=int(env.get("ATRIUM_SCRIPT_WORKERS", defaults.script_workers)),
            # Scheduled backups
            backup_cron=_backup_cron(env.get("ATRIUM_BACKUP_CRON")),
            backup_dir=Path(env.get("ATRIUM_BACKUP_DIR") or defaults.backup_dir),
            backup_keep=int(env.get("ATRIUM_BACKUP_KEEP") or defaults.backup_keep),
            backup_passphrase=env.get("ATRIUM_BACKUP_PASSPHRASE") or None,
            master_key=env.get("ATRIUM_MASTER_KEY") or None,
            master_key_file=Path(env["ATRIUM_MASTER_KEY_FILE"]) if env.get("ATRIUM_MASTER_KEY_FILE") else None,
            old_master_keys=tuple(k.strip() for k in (env.get("ATRIUM_OLD_MASTER_KEYS") or "").split(",") if k.strip()),
            # Masking by role
            masked_roles=_known_roles("ATRIUM_MASKED_ROLES", env.get("ATRIUM_MASKED_ROLES"), defaults.masked_roles),
            # Second factor
            require_totp_roles=_known_roles("ATRIUM_REQUIRE_TOTP_ROLES", env.get("ATRIUM_REQUIRE_TOTP_ROLES")),
            audit_retention_days=_positive(
                "ATRIUM_AUDIT_RETENTION_DAYS", env.get("ATRIUM_AUDIT_RETENTION_DAYS"), "days"
            ),
            erasure_confirmation=_flag(env.get("ATRIUM_ERASURE_CONFIRMATION"), defaults.erasure_confirmation),
            erase_after_years=_positive("ATRIUM_ERASE_AFTER_YEARS", env.get("ATRIUM_ERASE_AFTER_YEARS"), "years"),
            # Surveys
            public_url=(env.get("ATRIUM_PUBLIC_URL") or defaults.public_url).rstrip("/"),
            survey_link_days=_positive("ATRIUM_SURVEY_LINK_DAYS", env.get("ATRIUM_SURVEY_LINK_DAYS"), "days")
            or defaults.survey_link_days,
            survey_reminder=_duration(
                "ATRIUM_SURVEY_REMINDER", env.get("ATRIUM_SURVEY_REMINDER") or defaults.survey_reminder
            ),
            survey_nps_months=_positive("ATRIUM_SURVEY_NPS_MONTHS", env.get("ATRIUM_SURVEY_NPS_MONTHS"), "months")
            or defaults.survey_nps_months,
            survey_low_csat=int(env.get("ATRIUM_SURVEY_LOW_CSAT") or defaults.survey_low_csat),
            survey_low_nps=int(env.get("ATRIUM_SURVEY_LOW_NPS") or defaults.survey_low_nps),
            survey_rate_window_seconds=_positive(
                "ATRIUM_SURVEY_RATE_WINDOW_SECONDS", env.get("ATRIUM_SURVEY_RATE_WINDOW_SECONDS"), "seconds"
            )
            or defaults.survey_rate_window_seconds,
            survey_rate_per_address=_positive(
                "ATRIUM_SURVEY_RATE_PER_ADDRESS", env.get("ATRIUM_SURVEY_RATE_PER_ADDRESS"), "requests"
            )
            or defaults.survey_rate_per_address,
            survey_rate_per_link=_positive(
                "ATRIUM_SURVEY_RATE_PER_LINK", env.get("ATRIUM_SURVEY_RATE_PER_LINK"), "requests"
            )
            or defaults.survey_rate_per_link,
            api_key_rotation_grace_hours=float(
                env.get("ATRIUM_API_KEY_ROTATION_GRACE_HOURS") or defaults.api_key_rotation_grace_hours
            ),
            idempotency_key_hours=float(env.get("ATRIUM_IDEMPOTENCY_KEY_HOURS") or defaults.idempotency_key_hours),
            voucher_accounts=_voucher_accounts(env),
            # Event delivery
            webhook_max_attempts=_positive(
                "ATRIUM_WEBHOOK_MAX_ATTEMPTS", env.get("ATRIUM_WEBHOOK_MAX_ATTEMPTS"), "attempts"
            )
            or defaults.webhook_max_attempts,
            webhook_timeout_seconds=float(env.get("ATRIUM_WEBHOOK_TIMEOUT") or defaults.webhook_timeout_seconds),
            webhook_allow_private=_flag(env.get("ATRIUM_WEBHOOK_ALLOW_PRIVATE"), defaults.webhook_allow_private),
            amqp_url=env.get("ATRIUM_AMQP_URL") or None,
            amqp_exchange=env.get("ATRIUM_AMQP_EXCHANGE") or defaults.amqp_exchange,
            time_approval_hours=_amount(
                "ATRIUM_TIME_APPROVAL_HOURS", env.get("ATRIUM_TIME_APPROVAL_HOURS"), defaults.time_approval_hours
            ),
            billing_currency=_currency(env.get("ATRIUM_BILLING_CURRENCY"), defaults.billing_currency),
            billing_hourly_rate=_amount(
                "ATRIUM_BILLING_HOURLY_RATE", env.get("ATRIUM_BILLING_HOURLY_RATE"), defaults.billing_hourly_rate
            ),
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
        """Refuse to run in production mode without a secret key, or with one short enough to guess."""
        if self.is_production and not self.secret_key:
            raise RuntimeError("ATRIUM_ENV=production requires ATRIUM_SECRET_KEY to be set")
        if self.is_production and len(self.secret_key.encode()) < MIN_SECRET_KEY_BYTES:
            raise RuntimeError(
                f"ATRIUM_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )


def _amount(env_name: str, text: str | None, default: Decimal) -> Decimal:
    """A decimal amount of at most two places, zero or more (hours, a rate)."""
    if text is None or not text.strip():
        return default
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{env_name} must be an amount of zero or more with at most two decimals, not {text!r}")
    return value


def _currency(text: str | None, default: str) -> str:
    if text is None or not text.strip():
        return default
    if not re.fullmatch(r"[A-Z]{3}", text.strip()):
        raise ValueError(f"ATRIUM_BILLING_CURRENCY must be an ISO 4217 code such as CNY, not {text!r}")
    return text.strip()


# Report schedules
_FIXED_DURATION = re.compile(r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _seconds(env_name: str, text: str | None, default: float) -> float:
    """Seconds, or an ISO-8601 duration of weeks, days, hours, minutes and seconds (P1D, PT12H); months and
    years have no fixed length, so they are refused."""
    if text is None or not text.strip():
        return default
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    found = _FIXED_DURATION.match(text)
    if not found:
        raise ValueError(f"{env_name}: '{text}' is neither seconds nor an ISO-8601 duration such as P1D or PT12H")
    weeks, days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return float((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds)


def _domains(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip().lstrip("@").casefold() for part in (text or "").split(",") if part.strip()))


def _backup_cron(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip().lower() == "off":
        return None
    from atrium.backup import check_cron

    check_cron(text.strip())
    return text.strip()


def _known_roles(env_name: str, text: str | None, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """`admin,partner`: roles among storage.accounts.ROLES; unset keeps `default`, empty names none, and
    an unknown one stops the start (a typo must not silently mask, or require, nobody)."""
    from storage.accounts import ROLES

    if text is None:
        return default
    roles = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"{env_name}: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return roles


def _voucher_accounts(env) -> dict[str, str]:
    """ATRIUM_ACCOUNT_<NAME> over the default account codes; a code a finance package could not hold stops the start."""
    accounts = dict(DEFAULT_VOUCHER_ACCOUNTS)
    for name in accounts:
        variable = f"ATRIUM_ACCOUNT_{name.upper()}"
        value = (env.get(variable) or "").strip()
        if value:
            if not _ACCOUNT_CODE.match(value):
                raise ValueError(f"{variable}: '{value}' is not an account code (letters, digits, '.' or '-')")
            accounts[name] = value
    return accounts
