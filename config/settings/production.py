"""Production: every secret from the environment, PostgreSQL and Redis expected, HTTPS only."""

from config.settings.base import *  # noqa: F403
from config.settings.base import database_from_env, env, fernet_keys_from_env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
FERNET_KEYS = fernet_keys_from_env(required=True)
DATABASES = {"default": database_from_env(env.str("DATABASE_URL"))}
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
