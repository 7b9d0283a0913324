"""The embedded default: SQLite in the data folder, a broker that needs no server, the sandbox
emulators standing in for the apps. ``make run`` writes a ``.env`` with fresh secrets."""

from config.settings.base import *  # noqa: F403
from config.settings.base import DATA_DIR, database_from_env, env, fernet_keys_from_env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY")
DATABASES = {"default": database_from_env(f"sqlite:///{DATA_DIR / 'tandem.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process writes each webhook delivery while a run writes: every transaction takes
    # SQLite's write lock as it begins (waiting for it), so two never deadlock upgrading a read
    # ("database is locked" at once, whatever the timeout).
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
FERNET_KEYS = fernet_keys_from_env(required=True)

# make run serves the web pages on TANDEM_PORT and the sandbox on TANDEM_SANDBOX_PORT (Procfile).
SITE_URL = env.str(
    "TANDEM_SITE_URL", default=f"http://127.0.0.1:{env.int('TANDEM_PORT', default=8000)}"
)
# The sandbox's apps deliver their webhooks to the web process (the emulators take http to a
# loopback host), so the demo syncs an edit within seconds; polling stays the backstop.
TANDEM_PUBLIC_URL = env.str("TANDEM_PUBLIC_URL", default=SITE_URL)
SANDBOX_URL = env.str(
    "TANDEM_SANDBOX_URL",
    default=f"http://127.0.0.1:{env.int('TANDEM_SANDBOX_PORT', default=8700)}",
)
KUSTOMER_BASE_URL_TEMPLATE = env.str(
    "KUSTOMER_BASE_URL_TEMPLATE", default=SANDBOX_URL + "/kustomer/{subdomain}"
)
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="tandem-demo")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="tandem-demo-secret")
GOOGLE_OAUTH_AUTHORIZE_URL = env.str(
    "GOOGLE_OAUTH_AUTHORIZE_URL", default=SANDBOX_URL + "/google_contacts/o/oauth2/v2/auth"
)
GOOGLE_OAUTH_TOKEN_URL = env.str(
    "GOOGLE_OAUTH_TOKEN_URL", default=SANDBOX_URL + "/google_contacts/token"
)
GOOGLE_PEOPLE_BASE_URL = env.str("GOOGLE_PEOPLE_BASE_URL", default=SANDBOX_URL + "/google_contacts")
HUBSPOT_BASE_URL = env.str("HUBSPOT_BASE_URL", default=SANDBOX_URL + "/hubspot")
HUBSPOT_OAUTH_CLIENT_ID = env.str("HUBSPOT_OAUTH_CLIENT_ID", default="tandem-demo")
HUBSPOT_OAUTH_CLIENT_SECRET = env.str("HUBSPOT_OAUTH_CLIENT_SECRET", default="tandem-demo-secret")
HUBSPOT_OAUTH_AUTHORIZE_URL = env.str(
    "HUBSPOT_OAUTH_AUTHORIZE_URL", default=SANDBOX_URL + "/hubspot/oauth/authorize"
)
HUBSPOT_OAUTH_TOKEN_URL = env.str(
    "HUBSPOT_OAUTH_TOKEN_URL", default=SANDBOX_URL + "/hubspot/oauth/v1/token"
)
MAILCHIMP_BASE_URL_TEMPLATE = env.str(
    "MAILCHIMP_BASE_URL_TEMPLATE", default=SANDBOX_URL + "/mailchimp/{dc}/3.0"
)
MAILCHIMP_OAUTH_CLIENT_ID = env.str("MAILCHIMP_OAUTH_CLIENT_ID", default="tandem-demo")
MAILCHIMP_OAUTH_CLIENT_SECRET = env.str(
    "MAILCHIMP_OAUTH_CLIENT_SECRET", default="tandem-demo-secret"
)
MAILCHIMP_OAUTH_AUTHORIZE_URL = env.str(
    "MAILCHIMP_OAUTH_AUTHORIZE_URL", default=SANDBOX_URL + "/mailchimp/oauth2/authorize"
)
MAILCHIMP_OAUTH_TOKEN_URL = env.str(
    "MAILCHIMP_OAUTH_TOKEN_URL", default=SANDBOX_URL + "/mailchimp/oauth2/token"
)
MAILCHIMP_OAUTH_METADATA_URL = env.str(
    "MAILCHIMP_OAUTH_METADATA_URL", default=SANDBOX_URL + "/mailchimp/oauth2/metadata"
)
