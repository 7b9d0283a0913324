"""The admin's ModelAdmins are registered by the process that serves them (``config.urls``) and
by the system checks, not in every process's ``django.setup()`` (``config/admin_app.py``).

Each test starts a process of its own: this one's registry is already filled (``conftest.py``
loads the URLconf, as the web process does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def in_fresh_process(code: str) -> dict[str, object]:
    """Run ``code`` after ``django.setup()`` on the test settings; it prints one JSON object."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", "import django, json, sys\ndjango.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


WEB_MODULES = (
    "[m for m in sys.modules if m in ('config.urls', 'accounts.admin', 'accounts.views')"
    " or m.startswith(('integrations.admin', 'integrations.views', 'integrations.forms'))]"
)


def test_a_worker_loads_its_tasks_and_the_engine_but_no_page_nor_model_admin() -> None:
    # What a Celery worker (or beat) does when it starts, before its pool forks: its loader
    # imports the task modules, through Celery's Django fixup (which would run the system
    # checks, and with them load the URLconf, unless CELERY_SKIP_CHECKS: config/celery_app.py).
    found = in_fresh_process(
        "from config.celery_app import app\n"
        "app.loader.import_default_modules()\n"
        "from django.contrib import admin\n"
        "registered = len(admin.site._registry)\n"
        "loaded = [m in sys.modules for m in ('integrations.tasks', 'integrations.sync.engine')]\n"
        f"print(json.dumps({{'web': {WEB_MODULES}, 'admins': registered, 'loaded': loaded}}))"
    )
    assert found == {"web": [], "admins": 0, "loaded": [True, True]}


def test_the_urlconf_registers_every_model_admin_before_resolving_a_url() -> None:
    found = in_fresh_process(
        "from django.urls import reverse\n"
        "from django.contrib import admin\n"
        "url = reverse('admin:integrations_connection_changelist')\n"
        "labels = sorted(m._meta.label for m in admin.site._registry)\n"
        "group = {m._meta.label: type(a).__module__ for m, a in admin.site._registry.items()}\n"
        "print(json.dumps({'url': url, 'labels': labels, 'group': group['auth.Group']}))"
    )
    assert found["url"] == "/admin/integrations/connection/"
    labels = found["labels"]
    assert isinstance(labels, list)
    for label in ("accounts.User", "accounts.Workspace", "integrations.Connection",
                  "integrations.SyncRun"):  # fmt: skip
        assert label in labels
    assert found["group"] == "accounts.admin"  # Django's GroupAdmin replaced, as before


def test_the_system_checks_check_every_model_admin_without_the_urlconf() -> None:
    found = in_fresh_process(
        "from django.core import checks\n"
        "from django.contrib import admin\n"
        "before = len(admin.site._registry)\n"
        "errors = checks.run_checks(tags=[checks.Tags.admin])\n"
        "print(json.dumps({'before': before, 'after': len(admin.site._registry),\n"
        "                  'loaded': 'integrations.admin.connections' in sys.modules,\n"
        "                  'errors': [str(e) for e in errors]}))"
    )
    assert found["before"] == 0
    assert isinstance(found["after"], int) and found["after"] > 20
    assert found["loaded"] is True
    assert found["errors"] == []
