"""The fault tests' children: the test settings, but tasks go through the broker to a worker
(the test settings run them in place)."""

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False
