"""The Celery app with beat's dispatcher ticking every ``TANDEM_FAULTS_TICK`` seconds instead of
every minute, for the fault tests' beat processes (``celery -A tests.faults.fastbeat beat``)."""

import os

from config.celery_app import app

app.conf.beat_schedule = {
    "dispatch-due-connections": {
        "task": "integrations.tasks.dispatch_due_connections_task",
        "schedule": float(os.environ.get("TANDEM_FAULTS_TICK", "1")),
    }
}

__all__ = ["app"]
