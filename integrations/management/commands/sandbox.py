"""Serve the app emulators (with their demo data) for the demo and the benchmarks.

With ``--data-dir`` (``make run`` passes ``data/sandbox``) the emulators' state is kept there:
saved within a second of each change and on a clean stop, loaded at the next start, so a restart
keeps the contacts, tokens and edits of the last one. Demo data is seeded only into an emulator
that has no saved state; ``--reset`` forgets the saved state and starts from fresh demo data.
Without it the state lives in memory only (tests, benchmarks).
"""

from __future__ import annotations

import argparse
import importlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

if TYPE_CHECKING:
    from sandbox.server import Sandbox

MISSING_SANDBOX = (
    "The app emulators are not installed: they are test and demo infrastructure, not part of "
    "the product. Run this from a source checkout with the dev extra installed "
    "(pip install -e '.[dev]', or make run), where the top-level sandbox/ package is importable."
)


def _sandbox_server() -> Any:
    """The ``sandbox.server`` module, imported only when a sandbox is wanted: an installed
    product (``pip install .``) ships no emulator, and says so instead of failing to import."""
    try:
        return importlib.import_module("sandbox.server")
    except ModuleNotFoundError as error:
        if error.name not in {"sandbox", "sandbox.server", "werkzeug"} and not (
            error.name or ""
        ).startswith("werkzeug."):
            raise
        raise CommandError(f"{MISSING_SANDBOX} ({error.name} is missing)") from None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535 (0 would mean "any free port")."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535")
    return port


def build_sandbox(
    *,
    host: str,
    port: int,
    apps: list[str],
    seed: bool,
    data_dir: Path | None = None,
    reset: bool = False,
) -> Sandbox:
    """The emulators of ``apps``: with ``data_dir``, loaded from their saved state (forgotten
    first with ``reset``); those without one seeded with the demo data when ``seed``."""
    server = _sandbox_server()
    emulators: dict[str, str] = server.EMULATORS
    unknown = [slug for slug in apps if slug not in emulators]
    if unknown:
        raise CommandError(f"No emulator for {', '.join(unknown)}; known: {', '.join(emulators)}.")
    sandbox: Sandbox = server.Sandbox(host=host, port=port, slugs=apps, data_dir=data_dir)
    if reset:
        sandbox.clear_saved()
    sandbox.loaded = sandbox.load()
    if seed:
        for slug, emulator in sandbox.emulators.items():
            if slug in sandbox.loaded:
                continue
            emulator.seed_demo()
    # Seeded (or empty) emulators are saved at once: the state on disk is the state served.
    sandbox.save(force=True)
    return sandbox


def _stop_on_sigterm(*_: Any) -> None:
    # honcho and process managers stop with SIGTERM: leave like Ctrl+C, saving on the way out.
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Serve the app emulators on one port, seeded with the demo data, until interrupted: "
        "for the demo (make run) and the benchmarks. Not part of the installed product."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=port_number, default=8700, help="TCP port, 1 to 65535 (8700)."
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--apps",
            default="",
            help="Comma-separated emulator slugs (default: every registered one).",
        )
        parser.add_argument(
            "--no-seed", action="store_true", help="Seed no demo data into an empty emulator."
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="Keep the emulators' state in this folder across restarts (default: memory).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Forget the saved state and start from fresh demo data.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        apps = [a.strip() for a in options["apps"].split(",") if a.strip()] or list(
            _sandbox_server().EMULATORS
        )
        data_dir: Path | None = options["data_dir"]
        if options["reset"] and data_dir is None:
            raise CommandError("--reset needs --data-dir: without one nothing is kept anyway.")
        sandbox = build_sandbox(
            host=options["host"],
            port=options["port"],
            apps=apps,
            seed=not options["no_seed"],
            data_dir=data_dir,
            reset=options["reset"],
        )
        server = sandbox.bind()
        for slug in sandbox.emulators:
            kept = " (state kept from the last run)" if slug in sandbox.loaded else ""
            self.stdout.write(f"{slug} {sandbox.base_url(slug)}{kept}")
        if data_dir is not None:
            self.stdout.write(f"state saved in {data_dir} (--reset starts fresh)")
        self.stdout.flush()
        sandbox.start_autosave()
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            # A second SIGTERM (honcho's, after the process group's) must not cut the save short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            server.server_close()
            sandbox.stop_autosave()
            sandbox.save()
            signal.signal(signal.SIGTERM, previous)
