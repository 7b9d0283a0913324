"""Settings shared by every environment. Values come from the environment (django-environ);
``.env.example`` lists every one."""

import base64
import binascii
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
ENV_FILE = Path(env.str("TANDEM_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    env.read_env(str(ENV_FILE), overwrite=False)

DATA_DIR = Path(env.str("TANDEM_DATA_DIR", default=str(BASE_DIR / "data")))


# Run on every new SQLite connection. The write-ahead log lets the web process read while a run
# writes, and a commit appends to the log instead of journalling and syncing the file over:
# with ``synchronous=NORMAL`` the log is synced at its checkpoints, not at every commit (a
# transaction survives any crash of the process; a power cut may lose the last few, except the
# create intents, which the store commits with a sync of their own before a create is sent).
# An in-memory database keeps its own journal; the pragmas leave it as it is.
# Each connection caches at most 512 KiB of the file's pages instead of SQLite's 2 MiB: the
# operating system's page cache holds the file's pages anyway, and every thread of web, worker
# and beat holds a connection of its own. A 100,000 record scan took no longer (63 s against
# 69 s) and peaked 1.9 MB lower; an incremental run of 100 changes at 10,000 0.6 MB lower.
SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512"


def database_from_env(default: str) -> dict:
    """Parse ``DATABASE_URL``; a malformed value stops start-up naming the setting (and never
    echoing the URL, which may carry a password)."""
    url = env.str("DATABASE_URL", default=default)
    parts = urlsplit(url)
    if not parts.scheme or parts.scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            "DATABASE_URL is malformed: expected postgres://user:password@host:port/name "
            "or sqlite:////absolute/path.sqlite3"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # any parse failure is a configuration error
        raise ImproperlyConfigured(f"DATABASE_URL is malformed ({type(exc).__name__}).") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL is malformed: it names no database.")
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"] == "django.db.backends.sqlite3":
        options = config.setdefault("OPTIONS", {})
        # Web, worker and beat share one file: wait for locks rather than fail.
        options["timeout"] = 20
        options.setdefault("init_command", SQLITE_PRAGMAS)
        config["CONN_MAX_AGE"] = 0
        _make_sqlite_directory(str(config["NAME"]))
    return config


def _make_sqlite_directory(name: str) -> None:
    """SQLite creates a missing database file but not its directory ("unable to open database
    file"): on a fresh clone ``data/`` does not exist until something makes it. A directory
    that cannot be made is left to SQLite's own error when the first connection opens."""
    if name == ":memory:" or name.startswith("file:"):
        return
    with contextlib.suppress(OSError):
        Path(name).parent.mkdir(parents=True, exist_ok=True)


DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
SITE_URL = env.str("TANDEM_SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    # The admin is registered by the URLconf that serves it, not in every process
    # (config/admin_app.py).
    "config.admin_app.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
# sensitive_variables / sensitive_post_parameters hide credentials even on the DEBUG page.
DEFAULT_EXCEPTION_REPORTER_FILTER = "accounts.debug.AlwaysSafeExceptionReporterFilter"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspaces",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "integrations:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Log-in throttling: this many failed attempts per email, or per client IP, within the window
# pause logging in for that email / IP until the window (seconds, from the first failure) ends.
TANDEM_LOGIN_FAILURES_PER_EMAIL = env.int("TANDEM_LOGIN_FAILURES_PER_EMAIL", default=5)
TANDEM_LOGIN_FAILURES_PER_IP = env.int("TANDEM_LOGIN_FAILURES_PER_IP", default=20)
TANDEM_LOGIN_LOCKOUT_SECONDS = env.int("TANDEM_LOGIN_LOCKOUT_SECONDS", default=900)
# Reverse proxies in front of the web processes that append the client's address to
# X-Forwarded-For (0: clients connect directly and REMOTE_ADDR is theirs).
TANDEM_TRUSTED_PROXY_COUNT = env.int("TANDEM_TRUSTED_PROXY_COUNT", default=0)
# Password reset links stay valid this many seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve the project's static files straight from their folders too, so the pages have their
# stylesheet without a collectstatic step in the embedded default and the tests.
WHITENOISE_USE_FINDERS = True

# Email (password resets, invitations, notifications): printed to the console by default.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Tandem <tandem@localhost>")
# With the SMTP backend (production): where to send through.
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def fernet_keys_from_env(*, required: bool) -> list[str]:
    """``FERNET_KEYS``: comma-separated Fernet keys, newest first; a bad one stops start-up."""
    keys = env.list("FERNET_KEYS", default=[])
    if not keys:
        if required:
            raise ImproperlyConfigured(
                "Set the FERNET_KEYS environment variable: Fernet keys, newest first "
                "(make one with: python -c 'import base64,os;"
                "print(base64.urlsafe_b64encode(os.urandom(32)).decode())')."
            )
        return []
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (ValueError, binascii.Error):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"FERNET_KEYS: key #{position} is not a Fernet key "
                "(32 bytes, url-safe base64 encoded)."
            )
    return keys


# Credentials at rest: Fernet keys, newest first. Older keys still decrypt during a rotation.
FERNET_KEYS = fernet_keys_from_env(required=False)
FERNET_USE_HKDF = False

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://tandem")}

# Celery: the broker needs no server by default (a folder on disk; the host is kombu's default,
# named so that kombu does not warn of its absence in every process).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The worker logs through LOGGING (and LOG_FORMAT) like the web process.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Beat's dispatcher claims the due connections this often. A connection polls every
# TANDEM_SYNC_INTERVAL_SECONDS (60 s by default): with a tick a minute, a run that ended just
# after a tick waited for the one after, so a 60 s interval synced every 120 s. Each tick costs a
# constant number of queries, however many connections are due.
_dispatch_every = env.str("TANDEM_DISPATCH_EVERY_SECONDS", default="15")
try:
    TANDEM_DISPATCH_EVERY_SECONDS = float(_dispatch_every)
except ValueError:
    TANDEM_DISPATCH_EVERY_SECONDS = float("nan")
if not 1 <= TANDEM_DISPATCH_EVERY_SECONDS <= 60:
    raise ImproperlyConfigured(
        "TANDEM_DISPATCH_EVERY_SECONDS must be between 1 and 60 (seconds between dispatcher "
        f"ticks), not {_dispatch_every!r}."
    )
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-connections": {
        "task": "integrations.tasks.dispatch_due_connections_task",
        "schedule": TANDEM_DISPATCH_EVERY_SECONDS,
    },
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Modules with tasks beyond each app's tasks.py.
CELERY_IMPORTS = ("integrations.webhooks.tasks",)

# The sync loop.
# A new connection's polling interval (each connection keeps its own, a minute to a week).
TANDEM_SYNC_INTERVAL_SECONDS = env.int("TANDEM_SYNC_INTERVAL_SECONDS", default=60)
# A run renews its lease a few times per lease (leases.Heartbeat): short, so a dead worker's
# connection runs again within a couple of dispatcher ticks.
TANDEM_LEASE_SECONDS = env.int("TANDEM_LEASE_SECONDS", default=120)
TANDEM_DISPATCH_BATCH = env.int("TANDEM_DISPATCH_BATCH", default=500)
# A run that would tag more than this share of a side as deleted / unsubscribed stops and asks.
TANDEM_MASS_TAG_SHARE = env.float("TANDEM_MASS_TAG_SHARE", default=0.2)
TANDEM_CURSOR_OVERLAP_SECONDS = env.int("TANDEM_CURSOR_OVERLAP_SECONDS", default=5)
# /healthz: beat's dispatcher must have run within this many seconds; the broker check's timeout.
TANDEM_HEALTH_BEAT_MAX_AGE = env.int("TANDEM_HEALTH_BEAT_MAX_AGE", default=180)
TANDEM_HEALTH_BROKER_TIMEOUT = env.float("TANDEM_HEALTH_BROKER_TIMEOUT", default=2.0)
# Days the audit of what runs wrote (and can be undone) is kept.
TANDEM_AUDIT_DAYS = env.int("TANDEM_AUDIT_DAYS", default=90)
# Real time: the address the apps reach Tandem's webhook receiver at (https in production, e.g.
# https://tandem.example.com). Empty: no webhooks are registered and polling alone syncs.
TANDEM_PUBLIC_URL = env.str("TANDEM_PUBLIC_URL", default="")
# A burst of deliveries within this many seconds becomes one run of each connection.
TANDEM_WEBHOOK_DEBOUNCE_SECONDS = env.float("TANDEM_WEBHOOK_DEBOUNCE_SECONDS", default=1.0)

# The HTTP seam.
HTTP_CONNECT_TIMEOUT = env.float("HTTP_CONNECT_TIMEOUT", default=5.0)
HTTP_READ_TIMEOUT = env.float("HTTP_READ_TIMEOUT", default=30.0)
HTTP_MAX_RETRIES = env.int("HTTP_MAX_RETRIES", default=4)
HTTP_BACKOFF_BASE = env.float("HTTP_BACKOFF_BASE", default=0.5)
HTTP_MAX_WAIT = env.float("HTTP_MAX_WAIT", default=60.0)

# Apps. The base URLs point at the real services; the embedded default and the tests point them
# at the sandbox.
KUSTOMER_BASE_URL_TEMPLATE = env.str(
    "KUSTOMER_BASE_URL_TEMPLATE", default="https://{subdomain}.api.kustomerapp.com"
)
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="")
GOOGLE_OAUTH_AUTHORIZE_URL = env.str(
    "GOOGLE_OAUTH_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"
)
GOOGLE_OAUTH_TOKEN_URL = env.str(
    "GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token"
)
GOOGLE_PEOPLE_BASE_URL = env.str("GOOGLE_PEOPLE_BASE_URL", default="https://people.googleapis.com")
HUBSPOT_BASE_URL = env.str("HUBSPOT_BASE_URL", default="https://api.hubapi.com")
HUBSPOT_OAUTH_CLIENT_ID = env.str("HUBSPOT_OAUTH_CLIENT_ID", default="")
HUBSPOT_OAUTH_CLIENT_SECRET = env.str("HUBSPOT_OAUTH_CLIENT_SECRET", default="")
# Webhooks of Tandem's HubSpot app (signed with the client secret above): its id and the
# developer API key that sets its target URL and subscriptions. Empty: HubSpot is polled only.
HUBSPOT_APP_ID = env.str("HUBSPOT_APP_ID", default="")
HUBSPOT_DEVELOPER_API_KEY = env.str("HUBSPOT_DEVELOPER_API_KEY", default="")
HUBSPOT_OAUTH_AUTHORIZE_URL = env.str(
    "HUBSPOT_OAUTH_AUTHORIZE_URL", default="https://app.hubspot.com/oauth/authorize"
)
HUBSPOT_OAUTH_TOKEN_URL = env.str(
    "HUBSPOT_OAUTH_TOKEN_URL", default="https://api.hubapi.com/oauth/v1/token"
)
# The API key's data-center suffix ("...-us19") picks the host.
MAILCHIMP_BASE_URL_TEMPLATE = env.str(
    "MAILCHIMP_BASE_URL_TEMPLATE", default="https://{dc}.api.mailchimp.com/3.0"
)
# Mailchimp's OAuth 2 (api-notes §4.1): the metadata endpoint names an account's data center.
MAILCHIMP_OAUTH_CLIENT_ID = env.str("MAILCHIMP_OAUTH_CLIENT_ID", default="")
MAILCHIMP_OAUTH_CLIENT_SECRET = env.str("MAILCHIMP_OAUTH_CLIENT_SECRET", default="")
MAILCHIMP_OAUTH_AUTHORIZE_URL = env.str(
    "MAILCHIMP_OAUTH_AUTHORIZE_URL", default="https://login.mailchimp.com/oauth2/authorize"
)
MAILCHIMP_OAUTH_TOKEN_URL = env.str(
    "MAILCHIMP_OAUTH_TOKEN_URL", default="https://login.mailchimp.com/oauth2/token"
)
MAILCHIMP_OAUTH_METADATA_URL = env.str(
    "MAILCHIMP_OAUTH_METADATA_URL", default="https://login.mailchimp.com/oauth2/metadata"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # LOG_FORMAT=json: one JSON object per line (the run line's counters as fields).
            "formatter": "json" if env.str("LOG_FORMAT", default="plain") == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# The embedded default's demo admin (make run).
TANDEM_DEMO_ADMIN_EMAIL = env.str("TANDEM_DEMO_ADMIN_EMAIL", default="admin@tandem.local")
TANDEM_DEMO_ADMIN_PASSWORD = env.str("TANDEM_DEMO_ADMIN_PASSWORD", default="")
