"""Serve every app emulator from one threaded HTTP server.

Each emulator is mounted under ``/<slug>`` and owns everything below it, so one port serves them
all and each app's base URL is ``http://host:port/<slug>``. Tests start a ``Sandbox`` in-process on
a free port; ``manage.py sandbox`` serves the same emulators for the demo and the benchmarks.

With a ``data_dir`` the emulators' state outlives the process: ``load`` reads what a previous
process saved, and ``start_autosave`` writes each emulator's state at most once a second after
requests changed it (and ``stop`` once more), so the demo keeps what its users made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.utils.module_loading import import_string
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import ThreadedWSGIServer
from werkzeug.wrappers import Response

from sandbox.kit import Emulator

__all__ = ["EMULATORS", "Emulator", "Sandbox", "ThreadedServer"]

# slug -> dotted path of the emulator class. The slug matches the connector registry.
EMULATORS: dict[str, str] = {
    "kustomer": "sandbox.kustomer.KustomerEmulator",
    "google_contacts": "sandbox.google_contacts.GoogleContactsEmulator",
    "mailchimp": "sandbox.mailchimp.webhooks.MailchimpWebhookEmulator",
    "hubspot": "sandbox.hubspot.webhooks.HubSpotWebhookEmulator",
}


logger = logging.getLogger(__name__)


class ThreadedServer(ThreadedWSGIServer):
    """Werkzeug's threaded WSGI server, whose ``server_close`` also ends the requests it serves.

    Werkzeug serves each request on a daemon thread, and socketserver joins only the others: a
    request still running when the server closed (a stalled one whose client gave up, a client
    that connected and never asked) ran on into whatever the process did next, logging into the
    next test's capture or, after pytest's session, into its closed capture file. Closing hangs
    up on the clients still to send a request, then waits for the requests in flight (a
    ``sleep`` fault runs out), at most ``close_timeout`` seconds in all.
    """

    close_timeout = 5.0

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(host, port, app)
        self._serving: dict[threading.Thread, socket.socket] = {}
        self._serving_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> ThreadedServer:
        """Serve on a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._serving_lock:
            self._serving[thread] = request
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._serving_lock:
                self._serving.pop(threading.current_thread(), None)

    def server_close(self) -> None:
        super().server_close()
        with self._serving_lock:
            serving = dict(self._serving)
        for request in serving.values():
            # Reading ends: a thread waiting for a request line sees the end of the stream,
            # while a request in flight can still write its answer.
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + self.close_timeout
        for thread in serving:
            thread.join(max(0.0, deadline - time.monotonic()))


def _not_found(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    return Response('{"error": "no emulator here"}', status=404, mimetype="application/json")(
        environ, start_response
    )


class Sandbox:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        slugs: Iterable[str] | None = None,
        data_dir: Path | str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.emulators: dict[str, Emulator] = {
            slug: import_string(EMULATORS[slug])() for slug in (slugs or EMULATORS)
        }
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._server: ThreadedServer | None = None
        self._saved: dict[str, int] = {}
        self._save_lock = threading.Lock()
        self._autosave_stop = threading.Event()
        self._autosave: threading.Thread | None = None
        # The slugs whose state ``load`` found on disk.
        self.loaded: set[str] = set()

    # Saving and loading the emulators' state ----------------------------------------------

    def state_path(self, slug: str) -> Path:
        assert self.data_dir is not None, "this sandbox has no data folder"
        return self.data_dir / f"{slug}.state"

    def load(self) -> set[str]:
        """Load each emulator's saved state, when there is one; returns the slugs loaded. A
        file that cannot be read is set aside (``.unreadable``) and that emulator starts empty."""
        loaded: set[str] = set()
        if self.data_dir is None:
            return loaded
        for slug, emulator in self.emulators.items():
            path = self.state_path(slug)
            if not path.is_file():
                continue
            try:
                emulator.load_state(path.read_bytes())
            except Exception as exc:  # a truncated, foreign or outdated file
                aside = path.with_suffix(".unreadable")
                os.replace(path, aside)
                logger.warning("sandbox: %s could not be read (%s); moved to %s", path,
                               type(exc).__name__, aside.name)  # fmt: skip
                continue
            self._saved[slug] = emulator.changes
            loaded.add(slug)
        return loaded

    def save(self, *, force: bool = False) -> list[str]:
        """Write the state of each emulator that served requests since it was last saved (every
        one with ``force``), atomically: a crash mid-write leaves the previous file."""
        if self.data_dir is None:
            return []
        written = []
        with self._save_lock:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            for slug, emulator in self.emulators.items():
                changes = emulator.changes
                if not force and self._saved.get(slug) == changes:
                    continue
                data = emulator.dump_state()
                fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=f".{slug}.", suffix=".tmp")
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(tmp, self.state_path(slug))
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
                self._saved[slug] = changes
                written.append(slug)
        return written

    def clear_saved(self) -> None:
        """Forget the saved state (``manage.py sandbox --reset``)."""
        if self.data_dir is None:
            return
        for slug in self.emulators:
            self.state_path(slug).unlink(missing_ok=True)
        self._saved.clear()

    def start_autosave(self, interval: float = 1.0) -> None:
        """Save in the background, at most every ``interval`` seconds, what requests changed."""
        if self.data_dir is None or self._autosave is not None:
            return

        def loop() -> None:
            while not self._autosave_stop.wait(interval):
                try:
                    self.save()
                except Exception:
                    logger.exception("sandbox: saving the emulators' state failed")

        self._autosave_stop.clear()
        self._autosave = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
        self._autosave.start()

    def stop_autosave(self) -> None:
        if self._autosave is not None:
            self._autosave_stop.set()
            self._autosave.join(timeout=5)
            self._autosave = None

    def wsgi_app(self) -> DispatcherMiddleware:
        return DispatcherMiddleware(
            _not_found, {f"/{slug}": emulator for slug, emulator in self.emulators.items()}
        )

    def base_url(self, slug: str) -> str:
        return f"http://{self.host}:{self.port}/{slug}"

    def emulator(self, slug: str) -> Any:
        return self.emulators[slug]

    def bind(self) -> ThreadedServer:
        """Listen on the port (a free one for port 0) and tell each emulator its base URL."""
        self._server = ThreadedServer(self.host, self.port, self.wsgi_app())
        self.port = self._server.server_port
        for slug, emulator in self.emulators.items():
            emulator.base_url = self.base_url(slug)
        return self._server

    def start(self) -> Sandbox:
        self.bind().start()
        return self

    def serve_forever(self) -> None:
        self.bind().serve_forever()

    def stop(self) -> None:
        """Stop the server (the requests in flight end), then the emulators' delivery threads,
        then save the state."""
        if self._server is not None:
            self._server.stop()
        for emulator in self.emulators.values():
            emulator.stop()
        self.stop_autosave()
        self.save()
