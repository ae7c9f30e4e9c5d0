"""Configuration from the environment (every variable is listed in docs/configuration.md)."""

import hashlib
import hmac
import re
from datetime import time, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from coach_sessions.auth import DEFAULT_TOKEN_MAX_TTL
from coach_sessions.payload_codec import Keyring
from coach_sessions.rules import CALLBACK_NOTICE_WINDOW

DEFAULT_TIMEZONE = "Asia/Kolkata"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}  # a bare number is seconds ("0" disables)


def parse_duration(value: Any) -> Any:
    """Accept operator-friendly durations (``48h``, ``15m``, ``90s``, ``2d``, ``0``) besides ISO 8601/seconds."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_durations(value: Any) -> Any:
    """``24h,1h`` (or a list) → durations; an empty string means none."""
    if isinstance(value, str):
        return [parse_duration(part) for part in value.split(",") if part.strip()]
    return value


# NoDecode: pydantic-settings would otherwise read a list variable as JSON.
Durations = Annotated[list[timedelta], NoDecode, BeforeValidator(parse_durations)]


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's error must not print the environment (secrets, keys).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False, hide_input_in_errors=True)

    app_env: Literal["development", "test", "production"] = "production"

    database_url: str = "postgresql://postgres@localhost:5432/coach_sessions"
    db_pool_min_size: int = 1
    db_pool_max_size: int = 10

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "coach-sessions"
    # AES-256-GCM keys for every Temporal payload (coach_sessions/payload_codec.py): `kid:<base64 of 32
    # bytes>,...`, the first encrypts, all decrypt. Required in production; empty elsewhere: plaintext.
    payload_encryption_keys: str = ""
    # The Temporal UI's origin (scheme://host[:port]) allowed to call /codec/decode|encode with CORS;
    # empty: no cross-origin codec calls (docs/operations.md, "Reading decoded histories").
    temporal_ui_origin: str = ""
    # Bounded so that 100k sleeping session workflows keep worker memory flat.
    worker_max_cached_workflows: int = 1000
    # Workflow tasks a worker runs at once (docs/configuration.md).
    worker_max_concurrent_workflow_tasks: int = 100

    auth_jwt_secret: str = ""
    auth_token_ttl: Duration = timedelta(hours=12)
    # Signs family links (coach_sessions/family_links.py), 32+ characters; empty: a key derived from
    # AUTH_JWT_SECRET (changing either revokes every link). A link lives FAMILY_LINK_TTL (1 hour to 90 days).
    family_link_secret: str = ""
    family_link_ttl: Duration = timedelta(days=30)
    # The longest lifetime (exp - iat) a portal token may have; longer ones are refused, and not minted.
    auth_token_max_ttl: Duration = DEFAULT_TOKEN_MAX_TTL
    # An identity provider's access tokens (coach_sessions/provider_tokens.py): its JWKS (RS256/ES256),
    # and/or a legacy HS256 secret (Supabase's project JWT secret). Both empty: no provider tokens.
    auth_jwks_url: str = ""
    auth_issuer: str = ""
    auth_audience: str = "authenticated"  # Supabase's aud for signed-in users
    auth_provider_jwt_secret: str = ""

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Page sign-in with OpenID Connect (docs/security.md, "Signing in"): discovery at
    # OIDC_ISSUER/.well-known/openid-configuration. Empty: no OpenID sign-in (development has its own page).
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_provider_label: str = "Google"  # the sign-in button says "Sign in with <label>"
    # The callback URL registered at the provider; empty: this API's /auth/callback as the request saw it.
    oidc_redirect_url: str = ""
    # A signed-in page's server session ends after this long without a request, and at the latest this
    # long after sign-in, whatever happens.
    session_idle_timeout: Duration = timedelta(hours=2)
    session_max_age: Duration = timedelta(hours=12)

    # Providers: "local" keeps everything on this machine (clearly labelled), the others call the real APIs.
    calendar_provider: Literal["local", "google"] = "local"
    google_service_account_file: str = ""
    google_calendar_api_endpoint: str = ""  # override for tests / proxies; includes /calendar/v3/
    google_calendar_send_updates: Literal["all", "externalOnly", "none"] = "all"

    whatsapp_provider: Literal["local", "aisensy"] = "local"
    aisensy_api_key: str = ""
    aisensy_api_url: str = "https://backend.aisensy.com/campaign/t1/api/v2"
    aisensy_webhook_secret: str = ""

    cancellation_auto_approve_after: Duration = timedelta(hours=48)
    # One paid "Call Me" notice to the coach per cancellation request within this window (0: one per tap).
    callback_notice_window: Duration = CALLBACK_NOTICE_WINDOW

    # How long an action waits for its workflow's answer before the API answers 503
    # temporarily_unavailable (the action is then never applied later; see docs/reliability.md).
    action_answer_within: Duration = timedelta(seconds=5)
    # Each worker marks itself alive every WORKER_HEARTBEAT_EVERY; /readyz says "no worker" for a task
    # queue whose newest mark is older than WORKER_HEARTBEAT_STALE_AFTER.
    worker_heartbeat_every: Duration = timedelta(seconds=2)
    # Each API process looks for workflows to bring back to their rows (api/services/reconciler.py)
    # this often: the bound on how long a lost update leaves a session's workflow behind its row.
    reconcile_every: Duration = timedelta(seconds=2)
    worker_heartbeat_stale_after: Duration = timedelta(seconds=6)
    # Free slots offered for rescheduling: the coach's working hours (their timezone) and slot step.
    working_hours_start: time = time(9, 0)
    working_hours_end: time = time(20, 0)
    slot_step_minutes: int = 30
    # Pre-session brief (docs/domain.md, "Pre-session brief"). "local" runs on this machine with no credentials:
    # wordllama embeddings from its wheel and a deterministic brief labelled "model": "local".
    embedding_provider: Literal["local", "gemini"] = "local"
    brief_provider: Literal["local", "gemini"] = "local"
    gemini_api_key: str = ""
    gemini_base_url: str = ""  # empty: Google's endpoint; tests point it at a local fake
    gemini_embedding_model: str = "gemini-embedding-001"
    gemini_embedding_dimensions: int = 768
    gemini_brief_model: str = "gemini-3.1-flash-lite"
    # How the brief's prompt names the child: by first name, or "[child]" (the answer gets the first
    # name back). Either way no surname, phone or email goes to the model (docs/security.md).
    brief_child_name: Literal["first_name", "placeholder"] = "first_name"
    gemini_timeout: Duration = timedelta(seconds=30)
    # The SessionWorkflow generates the brief this long before the session starts.
    brief_lead_time: Duration = timedelta(hours=2)
    # Events retrieved per brief (the hybrid search's fused top k).
    brief_source_count: int = 12

    # Timers each session holds (docs/domain.md, "Timers and nudges"). WhatsApp reminders to the parent this
    # long before the session's start (empty: none).
    session_reminders: Durations = [timedelta(hours=24), timedelta(hours=1)]
    # A session left pending (its end passed, not completed or marked missed) nudges its coach this long
    # after its end, then every PENDING_NUDGE_REPEAT, at most PENDING_NUDGE_MAX times (0: no nudges).
    pending_nudge_after: Duration = timedelta(hours=12)
    pending_nudge_repeat: Duration = timedelta(days=1)
    pending_nudge_max: int = 3
    # A coach cannot reschedule or ask to cancel a session starting sooner than this (0 disables;
    # admins are not bound by it).
    coach_min_notice: Duration = timedelta(hours=24)

    # Inbound webhook bodies and sent messages' parameters are purged this long after they arrived or
    # were created (and ended sign-in sessions deleted), by a pass every RETENTION_PURGE_EVERY.
    personal_data_retention: Duration = timedelta(days=90)
    retention_purge_every: Duration = timedelta(hours=24)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _require_secrets_outside_development(self) -> "Settings":
        if self.app_env == "production" and len(self.auth_jwt_secret) < 32:
            raise ValueError(
                "AUTH_JWT_SECRET must be set (32+ characters) outside development; "
                "`make run` generates one for local use"
            )
        self._check_auth_settings()
        self._check_payload_settings()
        self._check_family_link_settings()
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set with OIDC_ISSUER")
        if self.app_env == "production" and self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
            raise ValueError("OIDC_ISSUER must be an https:// URL in production")
        if not timedelta(minutes=1) <= self.session_idle_timeout <= self.session_max_age:
            raise ValueError("SESSION_IDLE_TIMEOUT must be at least 1m and not longer than SESSION_MAX_AGE")
        if self.working_hours_end <= self.working_hours_start:
            raise ValueError("WORKING_HOURS_END must be after WORKING_HOURS_START")
        if any(offset <= timedelta(0) for offset in self.session_reminders):
            raise ValueError("SESSION_REMINDERS must be positive durations, e.g. 24h,1h")
        if self.pending_nudge_max < 0 or self.pending_nudge_repeat <= timedelta(0):
            raise ValueError("PENDING_NUDGE_MAX must be >= 0 and PENDING_NUDGE_REPEAT positive")
        if self.coach_min_notice < timedelta(0) or self.pending_nudge_after < timedelta(0):
            raise ValueError("COACH_MIN_NOTICE and PENDING_NUDGE_AFTER must not be negative")
        if self.personal_data_retention < timedelta(days=1) or self.retention_purge_every < timedelta(minutes=1):
            raise ValueError("PERSONAL_DATA_RETENTION must be at least 1d and RETENTION_PURGE_EVERY at least 1m")
        if self.callback_notice_window < timedelta(0):
            raise ValueError("CALLBACK_NOTICE_WINDOW must not be negative")
        if not 5 <= self.slot_step_minutes <= 240:
            raise ValueError("SLOT_STEP_MINUTES must be between 5 and 240")
        if "gemini" in (self.embedding_provider, self.brief_provider) and not self.gemini_api_key:
            raise ValueError("GEMINI_API_KEY must be set when EMBEDDING_PROVIDER or BRIEF_PROVIDER is gemini")
        return self

    def _check_payload_settings(self) -> None:
        if self.payload_encryption_keys.strip():
            Keyring.parse(self.payload_encryption_keys)  # KeyringError (a ValueError) names no key
        elif self.app_env == "production":
            raise ValueError(
                "PAYLOAD_ENCRYPTION_KEYS must be set in production (<key id>:<base64 of 32 bytes>, ...); "
                "`make run` generates one for local use"
            )
        origin = self.temporal_ui_origin
        if origin and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValueError("TEMPORAL_UI_ORIGIN must be an origin: scheme://host[:port], no path or trailing /")

    def _check_family_link_settings(self) -> None:
        if self.family_link_secret and len(self.family_link_secret) < 32:
            raise ValueError("FAMILY_LINK_SECRET must be 32+ characters (or empty: derived from AUTH_JWT_SECRET)")
        if not timedelta(hours=1) <= self.family_link_ttl <= timedelta(days=90):
            raise ValueError("FAMILY_LINK_TTL must be between 1h and 90d")

    def family_link_key(self) -> bytes:
        """FAMILY_LINK_SECRET, or when it is empty a key derived from AUTH_JWT_SECRET (domain-separated)."""
        if self.family_link_secret:
            return self.family_link_secret.encode()
        return hmac.new(self.auth_jwt_secret.encode(), b"coach-sessions family links", hashlib.sha256).digest()

    def payload_keyring(self) -> Keyring | None:
        """The configured keyring, or None when PAYLOAD_ENCRYPTION_KEYS is empty (not production)."""
        return Keyring.parse(self.payload_encryption_keys) if self.payload_encryption_keys.strip() else None

    def _check_auth_settings(self) -> None:
        if not timedelta(0) < self.auth_token_ttl <= self.auth_token_max_ttl:
            raise ValueError("AUTH_TOKEN_TTL must be positive and at most AUTH_TOKEN_MAX_TTL")
        if not (self.auth_jwks_url or self.auth_provider_jwt_secret):
            return
        # Without an issuer, any token the provider signs for any project of theirs would do.
        if not self.auth_issuer.strip() or not self.auth_audience.strip():
            raise ValueError(
                "AUTH_ISSUER and AUTH_AUDIENCE must be set when AUTH_JWKS_URL or AUTH_PROVIDER_JWT_SECRET is"
            )
        # Keys fetched over plain HTTP could be swapped on the way: local servers only in development and tests.
        if self.auth_jwks_url and self.app_env == "production" and not self.auth_jwks_url.startswith("https://"):
            raise ValueError("AUTH_JWKS_URL must be an https:// URL outside development and test")
        if self.auth_jwks_url and not self.auth_jwks_url.startswith(("https://", "http://")):
            raise ValueError("AUTH_JWKS_URL must be an http(s):// URL")
        if self.auth_provider_jwt_secret:
            if len(self.auth_provider_jwt_secret) < 32:
                raise ValueError("AUTH_PROVIDER_JWT_SECRET must be 32+ characters")
            # One secret for both would let a provider token pass as a portal token's signature and back.
            if self.auth_provider_jwt_secret == self.auth_jwt_secret:
                raise ValueError("AUTH_PROVIDER_JWT_SECRET must differ from AUTH_JWT_SECRET")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
