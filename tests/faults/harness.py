"""Real processes for the fault tests: a private redis-server, Celery workers and beats, each
started with subprocess, each stopped by its own process id (its process group), never by name.

Every wait here is bounded in time; a test that needs a service this machine lacks skips (or
fails under ``TANDEM_REQUIRE_SERVICES=1``) through ``tests.conftest._missing``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection as db

from tests.conftest import _missing

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The leases and the dispatcher of the children: short, so a dead worker's connection is free
# again within seconds and a beat tick comes every second.
LEASE_SECONDS = 3
TICK_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    predicate: Callable[[], T], *, timeout: float, step: float = 0.05, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


def database_url() -> str:
    s = db.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s["HOST"] or "127.0.0.1"
    return f"postgres://{s['USER']}{password}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def stop(process: subprocess.Popen[Any], *, timeout: float = 10) -> None:
    """Stop a child and everything it started, by its process group id."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGCONT)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class RedisServer:
    """A private redis-server on a free port (never the shared one on 6379)."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            _missing("needs redis-server on PATH")
        assert binary is not None
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

        def up() -> bool:
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_for(up, timeout=15, what=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def restart(self, *, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


class Fleet:
    """The Celery processes of one test: workers and beats with the same environment."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.processes: dict[str, subprocess.Popen[Any]] = {}
        self.count = 0

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[Any]:
        self.count += 1
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", *args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.processes[name] = process
        return process

    def worker(self, name: str) -> subprocess.Popen[Any]:
        return self._start(
            name,
            ["-A", "config", "worker", "--pool", "solo", "--loglevel", "info", "-n",
             f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        )  # fmt: skip

    def beat(self, name: str) -> subprocess.Popen[Any]:
        return self._start(
            name,
            ["-A", "tests.faults.fastbeat", "beat", "--loglevel", "info",
             "-s", str(self.workdir / f"{name}-schedule")],
        )  # fmt: skip

    def pids(self) -> dict[int, str]:
        return {p.pid: name for name, p in self.processes.items() if p.poll() is None}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if sig == signal.SIGKILL:
            process.wait(timeout=10)

    def output(self, name: str, tail: int = 3000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)


def child_env(settings: Any, redis_url: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "TANDEM_LEASE_SECONDS": str(LEASE_SECONDS),
        "TANDEM_FAULTS_TICK": str(TICK_SECONDS),
        "KUSTOMER_BASE_URL_TEMPLATE": settings.KUSTOMER_BASE_URL_TEMPLATE,
        "GOOGLE_OAUTH_TOKEN_URL": settings.GOOGLE_OAUTH_TOKEN_URL,
        "GOOGLE_PEOPLE_BASE_URL": settings.GOOGLE_PEOPLE_BASE_URL,
        "GOOGLE_OAUTH_CLIENT_ID": settings.GOOGLE_OAUTH_CLIENT_ID,
        "GOOGLE_OAUTH_CLIENT_SECRET": settings.GOOGLE_OAUTH_CLIENT_SECRET,
        **more,
    }


@contextlib.contextmanager
def sending_to(broker_url: str) -> Any:
    """This process sends tasks through ``broker_url`` instead of running them in place.
    Connections and producers made for the previous broker are cached on the app: dropped too."""
    from config.celery_app import app

    def use(url: str, *, eager: bool) -> None:
        app.conf.update(task_always_eager=eager, broker_url=url)
        app._pool = None
        amqp = app.__dict__.get("amqp")
        if amqp is not None:
            amqp._producer_pool = None

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    use(broker_url, eager=False)
    try:
        yield app
    finally:
        use(previous[0], eager=previous[1])


def tasks_finished(fleet: Fleet, name: str) -> int:
    """Sync tasks a worker has finished (either way), from its log."""
    return sum(
        1
        for line in fleet.output(name, tail=10**7).splitlines()
        if "sync_connection_task[" in line and (" succeeded in " in line or " raised " in line)
    )
