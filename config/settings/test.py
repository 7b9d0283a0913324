"""Tests: fixed throwaway keys, SQLite unless DATABASE_URL says otherwise, fast hashing,
eager Celery unless a test starts a real worker."""

from config.settings.base import *  # noqa: F403
from config.settings.base import DATA_DIR, database_from_env, env

SECRET_KEY = "test-secret-key-not-for-production-" + "x" * 20
FERNET_KEYS = ["dGVzdC1mZXJuZXQta2V5LTAwMDAwMDAwMDAwMDAwMDA="]
DATABASES = {"default": database_from_env(f"sqlite:///{DATA_DIR / 'test.sqlite3'}")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
HTTP_BACKOFF_BASE = 0.01
HTTP_MAX_WAIT = 5.0
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://tandem-test")}
