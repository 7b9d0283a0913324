"""The app emulators in a process of their own, driven over a pipe.

A real app runs on someone else's machine: serving the emulators from the benchmark's own
process would make Tandem share its interpreter (and its peak memory) with them. The host
process starts a ``Sandbox`` on a free port, answers with the base URLs, then runs the named
data commands of ``bench.sync`` (seed a data set, make changes, check what arrived) against the
emulators' Python control API until told to stop.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any

from sandbox.server import Sandbox

SLUGS = ["kustomer", "google_contacts"]


class LatentSandbox(Sandbox):
    """A sandbox whose every answer first waits ``latency`` seconds, as a round trip to a
    remote API does (0 unless ``host_set_latency`` sets it)."""

    latency = 0.0

    def wsgi_app(self) -> Any:
        app = super().wsgi_app()

        def delayed(environ: dict[str, Any], start_response: Any) -> Any:
            if self.latency:
                time.sleep(self.latency)
            return app(environ, start_response)

        return delayed


def _serve(conn: Connection) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from bench import sync

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    sandbox = LatentSandbox(slugs=SLUGS).start()
    conn.send({slug: sandbox.base_url(slug) for slug in SLUGS})
    try:
        while True:
            message = conn.recv()
            if message is None:
                return
            name, args = message
            try:
                conn.send(("ok", getattr(sync, f"host_{name}")(sandbox, *args)))
            except Exception as exc:  # reported to the caller, which raises it
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sandbox.stop()


class SandboxHost:
    """Start with ``SandboxHost()``; ``call("seed", n)`` runs ``bench.sync.host_seed``."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.base_urls: dict[str, str] = self._conn.recv()

    def call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        status, result = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox host: {name} failed: {result}")
        return result

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
