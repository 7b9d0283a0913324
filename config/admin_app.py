"""Django's admin, registered by the process that serves it rather than by every process.

Django's default ``AdminConfig`` imports each installed app's ``admin`` module in
``django.setup()``. Celery workers, beat and the commands that run no system checks never
serve the admin, yet each paid for Tandem's ModelAdmins and what they import (the forms, the
connection set-up service): some 25 modules, about 1 MB resident in every such process
(workers and beat skip the checks: ``config/celery_app.py``). Here the admin is
registered the way Django documents for ``SimpleAdminConfig``: the URLconf that serves it
(``config.urls``) calls ``admin.autodiscover()``, so the web process has every ModelAdmin
before its first request is resolved. The system checks discover them first as well:
``manage.py check`` checks every ModelAdmin whether or not the URLconf was loaded.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import SimpleAdminConfig
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


def check_registered_admin(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django's checks of every registered ModelAdmin, after registering them all."""
    admin.autodiscover()
    return check_admin_app(app_configs, **kwargs)


class AdminConfig(SimpleAdminConfig):
    """The admin app, its ModelAdmins registered by ``config.urls`` and by the checks."""

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_registered_admin, checks.Tags.admin)
