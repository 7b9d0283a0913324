"""The receiver's URL keys kept out of the web server's request log.

A receiver's path ends with its subscription's random key, and for Mailchimp, which signs
nothing, that key is the only secret. ``manage.py runserver`` (the embedded default's web
process) logs every request's path on the ``django.server`` logger; ``hide_receiver_keys``
puts a filter on it that replaces the key with "…". (The receiver itself logs no key, and its
refusals are kept out of Django's request log: ``views._unlogged``.)
"""

from __future__ import annotations

import logging
import re

KEY = re.compile(r"(/webhooks/[\w-]+/)[^/\s\"?]+")


def redact(text: str) -> str:
    return KEY.sub(r"\1…", text)


class HideReceiverKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def hide_receiver_keys() -> None:
    """Put the filter on ``django.server`` once (called when the app is ready)."""
    server = logging.getLogger("django.server")
    if not any(isinstance(f, HideReceiverKeys) for f in server.filters):
        server.addFilter(HideReceiverKeys())
