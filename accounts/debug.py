"""Error reports that hide secrets whatever ``DEBUG`` says."""

from __future__ import annotations

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter applies ``sensitive_variables`` and ``sensitive_post_parameters`` only
    with ``DEBUG`` off; the debug page of a developer's machine (or a misconfigured server)
    would otherwise show real passwords and API keys."""

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
