"""The emulator kit: what every app emulator shares, under one vocabulary.

An emulator is a WSGI app mounted below ``/<slug>`` by ``sandbox.server.Sandbox``. The kit gives
each one:

- ``faults``: a ``FaultQueue``; ``fail_next(count, status, sleep=, after_commit=, drop=, reset=)``
  makes the next API requests answer an error unapplied, stall first, or be applied and then
  answer an error or lose the connection (a reset after commit);
- ``clock``: a ``Clock`` that can be frozen or moved forward (``freeze_clock``, ``advance_clock``);
- ``requests``: a ``RequestLog`` of the API requests served, by kind, in order, and counted;
- state save and load (``dump_state`` / ``load_state``) of everything but the transient parts;
- the control routes, the same for every app, as JSON under ``/<slug>/_sandbox/``::

    POST /_sandbox/reset                       a fresh emulator
    GET  /_sandbox/faults                      {"pending": n, "faults": [...]}
    POST /_sandbox/faults   {count, status, sleep, after_commit, drop, reset}
    GET  /_sandbox/clock                       {"now": iso, "frozen": bool}
    POST /_sandbox/clock    {freeze: iso | null} or {advance: seconds}
    GET  /_sandbox/requests                    {"requests": [kind, ...]} (oldest first)
    DELETE /_sandbox/requests                  forget them
    GET  /_sandbox/stats                       {"request_count": n, "requests": {kind: n}}
    POST /_sandbox/seed_demo                   the app's demo data

  Other paths below ``/_sandbox/`` are the app's own (``control``); a malformed control request
  answers 400 with ``{"error": ...}``, an unknown one 404.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import itertools
import json
import logging
import pickle
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

logger = logging.getLogger(__name__)

# Bumped when a saved state can no longer be read by this code: such a file is set aside.
STATE_VERSION = 2


class ControlError(Exception):
    """A malformed control request: answered 400 with the reason."""


# ---- faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What happens to one API request: ``status`` answers that error unapplied; ``sleep``
    stalls ``seconds`` first; ``after_commit`` applies it, then answers ``status`` or, with
    ``drop``, closes the connection without an answer. ``reset`` (seconds) goes with a 429 as
    the time the rate window ends, where the app sends one."""

    kind: str  # "status", "sleep" or "after_commit"
    status: int = 500
    seconds: float = 0.0
    drop: bool = False
    reset: float | None = None


class FaultQueue:
    """The faults for the next API requests, first in first out."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []

    def set(
        self,
        count: int = 1,
        status: int | None = None,
        *,
        sleep: float = 0.0,
        after_commit: bool = False,
        drop: bool = False,
        reset: float | None = None,
    ) -> None:
        """Replace the queue with ``count`` faults (see ``Fault``); a stall when ``sleep`` is
        given, else an error ``status`` (429 by default)."""
        if count < 0:
            raise ValueError("count must be 0 or more")
        if after_commit:
            fault = Fault("after_commit", status=status or 500, drop=drop)
        elif sleep:
            fault = Fault("sleep", seconds=float(sleep))
        else:
            fault = Fault("status", status=429 if status is None else int(status), reset=reset)
        if not 400 <= fault.status <= 599:
            raise ValueError("status must be an HTTP error status, 400 to 599")
        self._queue = [fault] * count

    def extend(self, faults: list[Fault]) -> None:
        self._queue.extend(faults)

    def pop(self) -> Fault | None:
        return self._queue.pop(0) if self._queue else None

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self._queue]


# ---- clock ---------------------------------------------------------------------------------


class Clock:
    """The emulator's now: the real clock, moved forward by ``advance``, or frozen."""

    def __init__(self) -> None:
        self.frozen: dt.datetime | None = None
        self.offset = 0.0

    def now(self) -> dt.datetime:
        if self.frozen is not None:
            return self.frozen
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset)

    def time(self) -> float:
        """Now as epoch seconds."""
        return self.now().timestamp()

    def freeze(self, when: dt.datetime | None) -> None:
        """Stop at ``when`` (an aware datetime); ``None`` runs the (advanced) real clock."""
        if when is not None and when.tzinfo is None:
            raise ValueError("freeze needs a date-time with a time zone")
        self.frozen = when

    def advance(self, seconds: float) -> None:
        if self.frozen is not None:
            self.frozen += dt.timedelta(seconds=seconds)
        else:
            self.offset += seconds


# ---- request log ---------------------------------------------------------------------------


class RequestLog:
    """The API requests served, by kind (``"GET /customers"``, ``"people.get"``): in order
    (iterate it) and counted (``log[kind]``, ``len(log)``, ``counts()``)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._entries: list[str] = []
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._keep = keep

    def record(self, kind: str) -> None:
        self._total += 1
        self._counts[kind] += 1
        self._entries.append(kind)
        if len(self._entries) > self._keep:
            del self._entries[: len(self._entries) - self._keep]

    def clear(self) -> None:
        self._entries.clear()
        self._counts.clear()
        self._total = 0

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    @property
    def total(self) -> int:
        return self._total

    def __getitem__(self, kind: str) -> int:
        return self._counts[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return self._total


# ---- state saving helpers ------------------------------------------------------------------


class _Count:
    """An ``itertools.count`` as saved (counters cannot be pickled on every Python)."""

    def __init__(self, start: int) -> None:
        self.start = start


def _saved(value: Any) -> Any:
    if isinstance(value, itertools.count):
        match = re.match(r"count\((-?\d+)", repr(value))
        return _Count(int(match.group(1)) if match else 0)
    return value


def _loaded(value: Any) -> Any:
    return itertools.count(value.start) if isinstance(value, _Count) else value


# ---- HTTP helpers --------------------------------------------------------------------------


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def drop_connection(request: Request) -> None:
    """Close the client's connection without an answer: a reset after the write committed."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---- the app base --------------------------------------------------------------------------


class Emulator(abc.ABC):
    """Base of an app emulator: a WSGI app for the paths under its mount point, with its state
    in memory behind one lock (requests are served on several threads)."""

    slug: str = ""
    # Attributes that are not the app's data: never saved, kept as they are on load.
    transient: ClassVar[frozenset[str]] = frozenset(
        {"lock", "base_url", "_faults", "requests", "changes"}
    )

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base_url = ""
        # Requests served so far: the autosave writes the state when this moved.
        self.changes = 0
        self.faults = FaultQueue()
        self.requests = RequestLog()
        self.clock = Clock()

    @property
    def faults(self) -> FaultQueue:
        return self._faults

    @faults.setter
    def faults(self, value: FaultQueue | list[Fault]) -> None:
        """A queue, or a plain list of ``Fault`` (``[]`` drops what is pending)."""
        if isinstance(value, FaultQueue):
            self._faults = value
        else:
            self._faults = FaultQueue()
            self._faults.extend(value)

    # ---- what each app provides ----------------------------------------------------------

    @abc.abstractmethod
    def dispatch(self, request: Request) -> Response:
        """Route one API request below the mount point (``request.path`` excludes it)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything: a fresh emulator (faults, clock and request log included)."""

    @abc.abstractmethod
    def seed_demo(self) -> dict[str, Any]:
        """Fill the emulator with the app's demo data; a JSON summary of what it made."""

    def control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        """The app's own control routes below ``/_sandbox/``; ``None`` when there is none."""
        return None

    def stop(self) -> None:  # noqa: B027 - a hook: the apps without webhooks keep it
        """Stop what the app runs in the background (its webhook delivery thread; what is
        still queued is not sent): the sandbox calls this when it stops. An app with nothing in
        the background has nothing to stop."""

    # ---- the shared controls -------------------------------------------------------------

    def reset_kit(self) -> None:
        """Reset the kit's parts (apps call this from ``reset``)."""
        self.faults = FaultQueue()
        self.requests = RequestLog()
        self.clock = Clock()

    def fail_next(
        self,
        count: int = 1,
        status: int | None = None,
        *,
        sleep: float = 0.0,
        after_commit: bool = False,
        drop: bool = False,
        reset: float | None = None,
    ) -> None:
        """The next ``count`` API requests answer ``status`` unapplied (429 by default); or,
        with ``sleep``, stall that many seconds first; or, with ``after_commit``, are applied
        and then answer ``status`` (500 by default) or, with ``drop``, lose the connection."""
        with self.lock:
            self.faults.set(
                count, status, sleep=sleep, after_commit=after_commit, drop=drop, reset=reset
            )

    def take_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.pop()

    def freeze_clock(self, when: dt.datetime | None) -> None:
        """Stamp every change with ``when`` (``None`` runs the clock again)."""
        with self.lock:
            self.clock.freeze(when)

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"request_count": self.requests.total, "requests": self.requests.counts()}

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> bytes:
        """The emulator's data (accounts, records, tokens, knobs) as bytes for ``load_state``."""
        with self.lock:
            state = {
                name: _saved(value)
                for name, value in vars(self).items()
                if name not in self.transient
            }
            return pickle.dumps(
                {"version": STATE_VERSION, "slug": self.slug, "state": state},
                protocol=pickle.HIGHEST_PROTOCOL,
            )

    def load_state(self, data: bytes) -> None:
        """Take back a state ``dump_state`` wrote (``ValueError`` when it is not one)."""
        payload = pickle.loads(data)  # noqa: S301 - our own file, in the sandbox's data folder
        if (
            not isinstance(payload, dict)
            or payload.get("version") != STATE_VERSION
            or payload.get("slug") != self.slug
            or not isinstance(payload.get("state"), dict)
        ):
            raise ValueError(f"not a saved {self.slug} emulator state (version {STATE_VERSION})")
        with self.lock:
            for name, value in payload["state"].items():
                if name not in self.transient:
                    setattr(self, name, _loaded(value))

    # ---- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            if request.path.startswith("/_sandbox/"):
                response = self._control(request, request.path[len("/_sandbox/") :])
            else:
                response = self.dispatch(request)
        except Exception:
            # An emulator bug: logged with its traceback, answered as the app answers its own
            # server errors (JSON, never a debug page), so a test sees a 500 it can read.
            logger.exception("sandbox: %s failed on %s %s", self.slug, request.method, request.path)
            response = self.server_error()
        finally:
            self.changes += 1
        return response(environ, start_response)

    def server_error(self) -> Response:
        """A 500 in the app's error shape (apps override it)."""
        return json_response({"error": "internal error"}, 500)

    def _control(self, request: Request, path: str) -> Response:
        body: Any = None
        if request.get_data():
            try:
                body = json.loads(request.get_data(as_text=True))
            except ValueError:
                return json_response({"error": "the body is not valid JSON"}, 400)
        try:
            with self.lock:
                response = self._kit_control(request.method, path, body, request.args)
                if response is None:
                    response = self.control(request.method, path, body, request.args)
        except (ControlError, KeyError, TypeError, ValueError) as exc:
            return json_response({"error": f"bad control request: {exc}"}, 400)
        if response is None:
            return json_response({"error": f"no control route {request.method} {path}"}, 404)
        return response

    def _kit_control(
        self, method: str, path: str, body: Any, args: Mapping[str, str]
    ) -> Response | None:
        options = body if isinstance(body, dict) else {}
        if body is not None and not isinstance(body, dict) and path in _KIT_ROUTES:
            raise ControlError("the body must be a JSON object")
        if path == "reset" and method == "POST":
            self.reset()
            return json_response({"ok": True})
        if path == "faults" and method == "GET":
            return json_response({"pending": len(self.faults), "faults": self.faults.describe()})
        if path == "faults" and method == "POST":
            status = options.get("status")
            reset = options.get("reset")
            self.fail_next(
                int(options.get("count", 1)),
                None if status is None else int(status),
                sleep=float(options.get("sleep", 0)),
                after_commit=bool(options.get("after_commit")),
                drop=bool(options.get("drop")),
                reset=None if reset is None else float(reset),
            )
            return json_response({"ok": True, "pending": len(self.faults)})
        if path == "clock" and method in ("GET", "POST"):
            if method == "POST":
                if "advance" in options:
                    self.advance_clock(float(options["advance"]))
                elif "freeze" in options:
                    freeze = options["freeze"]
                    self.freeze_clock(parse_iso(str(freeze)) if freeze else None)
                else:
                    raise ControlError("send {freeze: iso or null} or {advance: seconds}")
            now = self.clock.now()
            return json_response(
                {"now": now.astimezone(dt.UTC).isoformat(), "frozen": self.clock.frozen is not None}
            )
        if path == "requests" and method == "GET":
            return json_response({"requests": list(self.requests)})
        if path == "requests" and method == "DELETE":
            self.requests.clear()
            return json_response({"ok": True})
        if path == "stats" and method == "GET":
            return json_response(self.stats())
        if path == "seed_demo" and method == "POST":
            return json_response(self.seed_demo(), 201)
        return None


_KIT_ROUTES = frozenset({"reset", "faults", "clock", "requests", "stats", "seed_demo"})


def sleep_for(fault: Fault | None) -> None:
    """Stall for a ``sleep`` fault (outside the emulator's lock)."""
    if fault is not None and fault.kind == "sleep":
        time.sleep(fault.seconds)
