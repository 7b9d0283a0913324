"""The Celery application. Beat runs one dispatcher every minute; per-connection cadence is data
(``Connection.next_sync_at``), not one beat entry per connection."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Celery's Django fixup runs Django's system checks when a worker or beat starts: they load the
# URLconf and with it every view, form and ModelAdmin (about 4 MB in each such process), which
# workers and beat never serve. The release step runs them (``manage.py check --deploy``, and
# ``migrate``), as does ``runserver``; an empty CELERY_SKIP_CHECKS runs them here too.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("tandem")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
