"""Serve every app emulator from one threaded HTTP server.

Each emulator is mounted under ``/<slug>`` and owns everything below it, so one port serves them
all and each app's base URL is ``http://host:port/<slug>``. Tests start a ``Sandbox`` in-process on
a free port; ``manage.py sandbox`` serves the same emulators for the demo and the benchmarks.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.module_loading import import_string
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

# slug -> dotted path of the emulator class. The slug matches the connector registry.
EMULATORS: dict[str, str] = {
    "kustomer": "integrations.sandbox.kustomer.KustomerEmulator",
    "google_contacts": "integrations.sandbox.google_contacts.GoogleContactsEmulator",
}


class Emulator(abc.ABC):
    """Base of an app emulator: a WSGI app for the paths under its mount point, with its state
    in memory behind one lock (requests are served on several threads)."""

    slug: str = ""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base_url = ""

    @abc.abstractmethod
    def dispatch(self, request: Request) -> Response:
        """Route one request below the mount point (``request.path`` excludes it)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)


def _not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    return Response('{"error": "no emulator here"}', status=404, mimetype="application/json")(
        environ, start_response
    )


class Sandbox:
    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, slugs: Iterable[str] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.emulators: dict[str, Emulator] = {
            slug: import_string(EMULATORS[slug])() for slug in (slugs or EMULATORS)
        }
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def wsgi_app(self) -> DispatcherMiddleware:
        return DispatcherMiddleware(
            _not_found, {f"/{slug}": emulator for slug, emulator in self.emulators.items()}
        )

    def base_url(self, slug: str) -> str:
        return f"http://{self.host}:{self.port}/{slug}"

    def emulator(self, slug: str) -> Any:
        return self.emulators[slug]

    def bind(self) -> BaseWSGIServer:
        """Listen on the port (a free one for port 0) and tell each emulator its base URL."""
        self._server = make_server(self.host, self.port, self.wsgi_app(), threaded=True)
        self.port = self._server.server_port
        for slug, emulator in self.emulators.items():
            emulator.base_url = self.base_url(slug)
        return self._server

    def start(self) -> Sandbox:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind().serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
