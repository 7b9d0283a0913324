"""The web server's request log names a receiver without its URL key (Mailchimp's only
secret)."""

from __future__ import annotations

import logging

import pytest

KEY = "1yb7cqvWKy-XvmpGCWZOGXiH2UogxQtRlphtkdZZWs8"


def test_runservers_request_line_of_a_delivery_leaves_out_the_receivers_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="django.server")
    # As django.core.servers.basehttp.WSGIRequestHandler.log_message logs it.
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"GET /webhooks/mailchimp/{KEY}/ HTTP/1.1", "200", "0"
    )
    assert KEY not in caplog.text
    assert '"GET /webhooks/mailchimp/…/ HTTP/1.1" 200 0' in caplog.text
