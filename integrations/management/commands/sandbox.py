"""Serve the app emulators (with their demo data) for the demo and the benchmarks."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.sandbox.server import EMULATORS, Sandbox


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535 (0 would mean "any free port")."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535")
    return port


def build_sandbox(*, host: str, port: int, apps: list[str], seed: bool) -> Sandbox:
    unknown = [slug for slug in apps if slug not in EMULATORS]
    if unknown:
        raise CommandError(f"No emulator for {', '.join(unknown)}; known: {', '.join(EMULATORS)}.")
    sandbox = Sandbox(host=host, port=port, slugs=apps)
    if seed:
        for slug, emulator in sandbox.emulators.items():
            module = importlib.import_module(EMULATORS[slug].rsplit(".", 1)[0])
            seed_demo = getattr(module, "seed_demo", None)
            if callable(seed_demo):
                seed_demo(emulator)
    return sandbox


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
        parser.add_argument("--no-seed", action="store_true", help="Start with no demo data.")

    def handle(self, *args: Any, **options: Any) -> None:
        apps = [a.strip() for a in options["apps"].split(",") if a.strip()] or list(EMULATORS)
        sandbox = build_sandbox(
            host=options["host"], port=options["port"], apps=apps, seed=not options["no_seed"]
        )
        server = sandbox.bind()
        for slug in sandbox.emulators:
            self.stdout.write(f"{slug} {sandbox.base_url(slug)}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
