"""What base.html needs on every page: the user's workspaces and the current one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def workspaces(request: HttpRequest) -> dict[str, Any]:
    from integrations import selectors

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: a page that shows no switcher makes no query.
    return {
        "tandem_workspaces": SimpleLazyObject(
            lambda: list(selectors.workspaces_for_user(user=user))
        ),
        "tandem_current_workspace": SimpleLazyObject(lambda: selectors.current_workspace(request)),
    }
