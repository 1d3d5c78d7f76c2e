"""Settings for Console. Every value comes from the environment (see .env.example) with a default that
lets a fresh checkout run with no configuration: SQLite and an embedded Celery broker under var/."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

from console.devkeys import new_fernet_key, new_secret_key, read_or_create

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
VAR_DIR = Path(env.str("CONSOLE_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or read_or_create(VAR_DIR / "secret_key", new_secret_key)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The first key encrypts, every key decrypts (see `rotate_encryption_keys`).
CONSOLE_ENCRYPTION_KEYS = env.list("CONSOLE_ENCRYPTION_KEYS", default=[]) or [
    read_or_create(VAR_DIR / "encryption_keys", new_fernet_key)
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "console",
    "accounts",
    "projects",
    "tokens",
    "usage",
    "billing",
    "network",
    # After the console's apps, so that the console's templates for allauth's pages win.
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
]

MIDDLEWARE = [
    "console.metrics.MetricsMiddleware",  # first: its request times include every other middleware
    "console.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "console.api.JsonBodyMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.CurrentMembershipMiddleware",  # after messages: the two-factor policy leaves one
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "console.db_busy.DatabaseBusyMiddleware",
]

# The index of online channel users carries non-key columns (INCLUDE) so that PostgreSQL answers the live
# channel list from the index alone; SQLite builds it on the key columns only, which is what W040 says.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console_shell",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'console.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections: opening one per request costs more than the request itself on PostgreSQL.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# SQLite, the embedded default, under concurrent requests: WAL lets reads go on beside the one writer; a
# writer waits up to 20 s for the lock (less than gunicorn's 30 s worker timeout) rather than failing; and a
# transaction takes the write lock when it begins, because one that read first and then finds the lock
# taken fails at once, without waiting. This is also what serializes the select_for_update paths, which
# SQLite ignores. A write still locked out after the wait answers 503 (console.db_busy).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL", timeout=20, transaction_mode="IMMEDIATE"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.CachedModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions are read from the cache (Redis in production) and written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "overview"

# Sign-in, sign-up, password reset, email verification and two-factor: django-allauth, with the console's
# lockout, audit and organizations wired in through accounts/adapters.py.
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignUpForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # a new account proves its address before it can sign in
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_PREVENT_ENUMERATION = True  # sign-up and reset answer alike whether an account exists or not
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # no mail to addresses without an account
ACCOUNT_EMAIL_NOTIFICATIONS = True  # password and two-factor changes are mailed to the member
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Console: "
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
# Proving it is you again takes the password or a second factor, never a code sent by mail.
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"provider_class": "accounts.sso.ConsoleOIDCProvider"}}
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # the provider verified the address (accounts.sso checks it said so)
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # accounts.sso decides who an identity is, not allauth
SOCIALACCOUNT_STORE_TOKENS = False
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_FORMS = {
    "add_webauthn": "accounts.forms.AddPasskeyForm",
    "activate_totp": "accounts.forms.ActivateAuthenticatorAppForm",
    "edit_webauthn": "accounts.forms.RenamePasskeyForm",
}
MFA_TOTP_TOLERANCE = 1  # one 30-second step either side, as RFC 6238 advises (a used code stays spent)
MFA_RECOVERY_CODES_SHOW_ONCE = True
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Console")
# Passkeys need HTTPS, or http://localhost. This relaxes the server's origin check only: browsers still refuse
# plain HTTP on other hosts, and IP addresses (127.0.0.1) in any case.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", default=DEBUG)

# Brute-force protection: this many failures for one account or one IP address within the window
# refuse further sign-in attempts until the window has passed.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = timedelta(minutes=env.int("LOGIN_FAILURE_WINDOW_MINUTES", default=15))
# How many reverse proxies in front of the console append to X-Forwarded-For (accounts.audit.client_ip).
# 0: the client address is the connection's; behind one nginx or load balancer, 1.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
INVITATION_VALIDITY = timedelta(days=7)
# Anyone may create an account (with a new organization) at /accounts/signup/; off, accounts come by invitation.
PUBLIC_SIGNUP = env.bool("PUBLIC_SIGNUP", default=DEBUG)
# After re-entering the password, destructive actions do not ask again for this long.
SUDO_WINDOW = timedelta(minutes=env.int("SUDO_WINDOW_MINUTES", default=10))
ACCOUNT_REAUTHENTICATION_TIMEOUT = int(SUDO_WINDOW.total_seconds())  # the same window for two-factor changes
PROJECT_LIMIT = env.int("PROJECT_LIMIT", default=20)

# The longest token the token API may issue (temp tokens from the console are capped at 24 hours).
TOKEN_API_MAX_EXPIRE = env.int("TOKEN_API_MAX_EXPIRE", default=86_400)
# Both APIs: requests per second per organization per endpoint before 429 (0 turns the limit off).
API_RATE_LIMIT_PER_SECOND = env.int("API_RATE_LIMIT_PER_SECOND", default=10)
# Both APIs: failed HTTP Basic authentications per client address within the window before every further
# Basic attempt from it is refused (429, the secret not checked) until the window has passed (0: no limit).
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=10)
API_AUTH_FAILURE_WINDOW_MINUTES = env.int("API_AUTH_FAILURE_WINDOW_MINUTES", default=15)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.CustomerCredentialAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["console.throttling.OrganizationEndpointThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["console.parsers.JsonParser"],  # bounded size and depth
    "EXCEPTION_HANDLER": "console.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "console.pagination.ConsoleCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "console.api.ConsoleAutoSchema",  # documents {"message"} errors and X-Request-ID
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Console API",
    "DESCRIPTION": 'The native API of Console. Errors answer {"message": ...} with a 4xx status.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",  # the docs page's script is served from here, not from a CDN
    # Role levels: several modules share a level set; one schema component per set.
    "ENUM_NAME_OVERRIDES": {
        "LevelViewEditEnum": ["none", "view", "edit"],
        "LevelViewManageEnum": ["none", "view", "manage"],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def redis_url_for_test_worker(url: str) -> str:
    """`url` with its database number lowered by the pytest-xdist worker's number (gw1: 15 -> 14), so that
    the test processes `make test` runs side by side never clear each other's cache or queues."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    parts = urlsplit(url)
    if not worker.startswith("gw") or not parts.path.strip("/").isdigit():
        return url
    database = (int(parts.path.strip("/")) - int(worker[2:])) % 16
    return urlunsplit(parts._replace(path=f"/{database}"))


# Cache, Celery broker and results: Redis when REDIS_URL is set, local memory and files otherwise.
REDIS_URL = redis_url_for_test_worker(env.str("REDIS_URL", default=""))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A message a worker took and never acknowledged (it died) goes back to the queue after this long. Longer
    # than any task runs, or a running task is delivered twice (harmless: every task is safe to run twice).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "console.broker:AtomicFilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "broker"),
        "data_folder_out": str(VAR_DIR / "celery" / "broker"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery' / 'results'}"
    for folder in ("broker", "results", "control"):
        (VAR_DIR / "celery" / folder).mkdir(parents=True, exist_ok=True)
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A job survives its worker (README, "When a worker dies"): a task is acknowledged when it ends, so the broker
# delivers it again if its worker is killed (Redis after the visibility timeout; the embedded broker as soon as
# the dead worker's lock on it is gone), and a worker reserves no more tasks than it runs.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A running pull run that has not written a window for this long lost its worker: the reaper re-queues it.
# Longer than one window can take (a request with its retries and Retry-After waits: a few minutes at most).
PULL_RUN_STALE_AFTER = timedelta(minutes=env.int("PULL_RUN_STALE_AFTER_MINUTES", default=10))
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {
        "task": "accounts.tasks.expire_invitations",
        "schedule": crontab(minute=7),
    },
    "flush-token-audit-counts": {
        "task": "accounts.tasks.flush_token_counts",
        "schedule": crontab(),  # every minute: see accounts.audit.record_token_issued
    },
    "pull-recent-usage": {
        "task": "usage.tasks.pull_recent",
        "schedule": crontab(minute=15),
    },
    "reap-stale-pull-runs": {
        "task": "usage.tasks.reap_stale_pull_runs",
        "schedule": crontab(),  # every minute: see usage.pulling.reap_stale_runs
    },
    "close-previous-month": {
        "task": "billing.tasks.close_previous_month",
        "schedule": crontab(day_of_month=1, hour=0, minute=30),
    },
    "daily-ledger": {
        "task": "billing.tasks.daily_ledger",
        "schedule": crontab(hour=0, minute=45),
    },
    "check-quality-alerts": {
        "task": "network.tasks.check_quality_alerts",
        "schedule": crontab(),  # every minute: network.alerts
    },
    "forget-old-channel-users": {
        "task": "network.tasks.forget_old",
        "schedule": crontab(),  # every minute: users who left are kept 60 s (network.presence)
    },
    "pull-online-channels": {
        "task": "network.tasks.pull_channels",
        "schedule": crontab(),  # every minute: presence reconciled with Agora's channel lists (network.pulling)
    },
    "pull-calls": {
        "task": "network.tasks.pull_calls",
        "schedule": crontab(minute="*/5"),  # Agora Analytics' calls, their sessions and metrics
    },
    "forget-old-certificate-use": {
        "task": "projects.tasks.forget_old_certificate_use",
        "schedule": crontab(hour=3, minute=20),
    },
}

# /metrics (Prometheus text format): the bearer token a scraper sends; empty turns the endpoint off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Several processes (gunicorn workers, Celery): the folder where each writes its metrics, summed by a scrape.
# prometheus-client reads the variable from the environment itself; read here too, to create the folder.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Console <console@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The built-in sandbox upstream (synthetic usage): on in development; in production only as a trial.
USAGE_SANDBOX = env.bool("USAGE_SANDBOX", default=DEBUG)
# The console's public address (scheme://host[:port]). The worker reaches the sandbox there, through the same
# proxy, host name and HTTPS as a browser; without it, at PORT on its own machine (what `make run` serves).
SITE_URL = env.str("SITE_URL", default="").rstrip("/")
PORT = env.int("PORT", default=8000)
# The upstream of organizations that leave the base URL empty: the operator's choice, else the sandbox when it
# is on, else none (every organization must then enter the base URL of its own upstream).
_SANDBOX_URL = f"{SITE_URL or f'http://127.0.0.1:{PORT}'}/sandbox"
USAGE_UPSTREAM_URL = env.str("USAGE_UPSTREAM_URL", default="") or (_SANDBOX_URL if USAGE_SANDBOX else "")
USAGE_HTTP_TIMEOUT = env.float("USAGE_HTTP_TIMEOUT", default=10.0)
USAGE_HTTP_RETRIES = env.int("USAGE_HTTP_RETRIES", default=4)
# Hosts ("host" or "host:port") an organization's own upstream URL may name although they resolve to a loopback
# or private address (for a development setup). Empty in production: user-typed URLs reach public addresses only.
USAGE_UPSTREAM_ALLOWED_HOSTS = env.list("USAGE_UPSTREAM_ALLOWED_HOSTS", default=[])
# Misbehaviour of the sandbox, for tests only: {"error_rate": 0.3, "faults": ["500", "429", "slow", "malformed"]}.
USAGE_SANDBOX_FAULTS: dict = {}
# What the sandbox network (network/sandbox_network.py) does to the notifications it sends the console, as
# Agora's may be: {"duplicate_rate": 0.1, "reorder_rate": 0.1, "loss_rate": 0.02}, each a share of the
# notifications sent twice, held back behind later ones, or never sent. None by default.
NETWORK_SANDBOX_FAULTS: dict = {}
# The channel and call pulls from the same upstream (network.pulling, README "Channels and calls from Agora's
# APIs"). Channels: at most NETWORK_PULL_MAX_CHANNELS channels' users asked for a run (every minute), at most
# NETWORK_CHANNEL_QPS requests a second (0: unpaced; Agora allows 20 per account). Calls: those of the last
# NETWORK_CALLS_WINDOW_MINUTES (every 5 minutes), then the sessions and metrics of at most
# NETWORK_PULL_MAX_CALL_DETAILS ended calls a run, NETWORK_CALL_DETAILS_DELAY_SECONDS after they ended (Agora
# Analytics' data delay). NETWORK_ANALYTICS_PLAN (standard, premium, enterprise) sets the look-back, windows and
# pace Agora allows; NETWORK_ANALYTICS_QPS overrides the pace. Finished runs are kept NETWORK_PULL_RUNS_KEPT_DAYS.
NETWORK_PULL_MAX_CHANNELS = env.int("NETWORK_PULL_MAX_CHANNELS", default=100)
NETWORK_CHANNEL_QPS = env.float("NETWORK_CHANNEL_QPS", default=5.0)
NETWORK_CALLS_WINDOW = timedelta(minutes=env.int("NETWORK_CALLS_WINDOW_MINUTES", default=120))
NETWORK_PULL_MAX_CALL_DETAILS = env.int("NETWORK_PULL_MAX_CALL_DETAILS", default=20)
NETWORK_CALL_DETAILS_DELAY = timedelta(seconds=env.int("NETWORK_CALL_DETAILS_DELAY_SECONDS", default=300))
NETWORK_ANALYTICS_PLAN = env.str("NETWORK_ANALYTICS_PLAN", default="standard").lower()
if NETWORK_ANALYTICS_PLAN not in ("standard", "premium", "enterprise"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"NETWORK_ANALYTICS_PLAN is standard, premium or enterprise: {NETWORK_ANALYTICS_PLAN!r}")
NETWORK_ANALYTICS_QPS = env.float("NETWORK_ANALYTICS_QPS", default=0.0)
NETWORK_PULL_RUNS_KEPT = timedelta(days=env.int("NETWORK_PULL_RUNS_KEPT_DAYS", default=7))

# HTTPS=true is the production switch for every transport-security setting that `check --deploy` asks for.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("TRUST_PROXY_HTTPS_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy, enforced on every page: scripts, styles and everything else come from this
# server only, with no inline script, event handler or style attribute. Templates keep to it (a test scans
# them); the API docs page widens it for ReDoc alone (console/api_urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Logs go to stderr as text, or one JSON object a line with LOG_FORMAT=json; every line written while a
# request is served names its X-Request-ID. console/log_format.py has the filters and the JSON format.
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "console.log_format.RequestIdFilter"},
        "response_line": {"()": "console.log_format.ResponseLineFilter"},
    },
    "formatters": {
        "text": {
            "()": "logging.Formatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            "defaults": {"request_id": "-"},
        },
        "json": {"()": "console.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "response_line"],
        },
    },
    "loggers": {
        # Django's defaults give these their own handlers besides the root's, which printed every error
        # twice under DEBUG; named here, they keep none and reach the one handler above.
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": [], "propagate": True},
        # fontTools logs every table of every font it subsets for an invoice PDF at INFO.
        "fontTools": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
