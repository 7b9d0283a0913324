"""The Celery application. Beat runs one dispatcher every minute; per-connection cadence is data
(``Connection.next_sync_at``), not one beat entry per connection."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
