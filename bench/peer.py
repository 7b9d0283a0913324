"""The peer beside Tandem: vdirsyncer, the open two-way contact sync tool, syncing the same N
people filesystem <-> filesystem (``python -m bench peer``; run after ``sync`` to print
Tandem's figures beside it).

vdirsyncer is installed, at a pinned version, into a virtualenv of its own under
``data/bench-peer/`` (never into Tandem's dependencies); when it cannot be installed the tables
say why and its figures are missing. Each of its runs is a process of its own, whose peak
resident memory is read inside it (Linux ``VmHWM``, see ``PROBE``).

Per size N: side A holds the Kustomer org's people as vCards and side B the Google user's
(``bench.vcards``). Measured: the initial sync, one idle sync, then rounds of the same 100
changes as Tandem's (50 edited vCards on each side, a new company) each followed by one sync.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import figures, vcards
from bench.common import ROOT, Table
from bench.sync import CHANGES_PER_SIDE, FULL_SIZES, INCREMENTAL_ROUNDS, QUICK_SIZES

PEER = "vdirsyncer"
PEER_VERSION = "0.21.0"
HOME = ROOT / "data" / "bench-peer"
PAIR = "contacts"
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 3 * 3600

# Runs a console script in this interpreter and writes its peak RSS and exit status to a file.
# The peak is read in the process itself: a forked child's ru_maxrss starts from its parent's
# (the benchmark's) memory, where VmHWM starts afresh at exec.
PROBE = """\
import json, runpy, sys
out, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
code = 0
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
except BaseException:
    code = 1
    raise
finally:
    peak = 0.0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out, "w") as figures:
        json.dump({"peak_rss_mb": peak, "exit": code}, figures)
sys.exit(code)
"""


@dataclass
class PeerRun:
    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    log: str


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def venv_script(venv: Path) -> Path:
    return venv / "bin" / PEER


def install_commands(venv: Path, python: str = sys.executable) -> list[list[str]]:
    """Create the peer's own virtualenv and install the pinned vdirsyncer into it."""
    return [
        [python, "-m", "venv", "--clear", str(venv)],
        [str(venv_python(venv)), "-m", "pip", "install", "--quiet", f"{PEER}=={PEER_VERSION}"],
    ]


def installed_version(venv: Path) -> str | None:
    if not venv_python(venv).exists() or not venv_script(venv).exists():
        return None
    done = subprocess.run(
        [str(venv_python(venv)), "-c",
         f"import importlib.metadata as m; print(m.version({PEER!r}))"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_installed(venv: Path) -> str | None:
    """Install the pinned peer unless it is there; None when ready, else why it is not. One
    installer at a time: two benchmark runs may start together."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(venv)


def _install(venv: Path) -> str | None:
    if installed_version(venv) == PEER_VERSION:
        return None
    for command in install_commands(venv):
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command[:4])}: {exc}"
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if not line.startswith("WARNING")]
            return f"{' '.join(command[:4])} exited {done.returncode}: {' '.join(lines[-3:])}"
    found = installed_version(venv)
    return None if found == PEER_VERSION else f"installed {found!r}, not {PEER_VERSION}"


def config_text(workdir: Path) -> str:
    """Two filesystem storages of ``.vcf`` files and one pair between them; side A wins a
    conflict (vdirsyncer's values are JSON, so paths are quoted as JSON strings)."""

    def path(name: str) -> str:
        return json.dumps(str(workdir / name) + "/")

    return (
        f"[general]\nstatus_path = {path('status')}\n\n"
        f'[pair {PAIR}]\na = "{PAIR}_a"\nb = "{PAIR}_b"\ncollections = null\n'
        'conflict_resolution = "a wins"\n\n'
        f'[storage {PAIR}_a]\ntype = "filesystem"\npath = {path("a")}\n'
        f'fileext = "{vcards.EXTENSION}"\n\n'
        f'[storage {PAIR}_b]\ntype = "filesystem"\npath = {path("b")}\n'
        f'fileext = "{vcards.EXTENSION}"\n'
    )


def command(python: Path, script: Path, config: Path, figures_file: Path, *args: str) -> list[str]:
    """One vdirsyncer command run under ``PROBE`` (warnings and errors only on its output)."""
    return [
        str(python), "-c", PROBE, str(figures_file), str(script),
        "--verbosity", "WARNING", "--config", str(config), *args,
    ]  # fmt: skip


def run_measured(argv: list[str], figures_file: Path, log: Path, timeout: float) -> PeerRun:
    """Run ``argv`` (a ``command``): its wall, CPU (user + system) and peak RSS."""
    figures_file.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "wb") as out:
        done = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent, timeout=timeout,
            check=False,
        )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = 0.0
    if figures_file.exists():
        peak = float(json.loads(figures_file.read_text())["peak_rss_mb"])
    text = log.read_text(errors="replace")
    return PeerRun(wall, cpu, peak, done.returncode, text[-2000:])


@dataclass
class Peer:
    """The installed peer syncing the two directories of ``workdir``."""

    venv: Path
    workdir: Path

    @property
    def a(self) -> Path:
        return self.workdir / "a"

    @property
    def b(self) -> Path:
        return self.workdir / "b"

    def run(self, *args: str) -> PeerRun:
        config = self.workdir / "config"
        if not config.exists():
            config.write_text(config_text(self.workdir))
        argv = command(
            venv_python(self.venv), venv_script(self.venv), config,
            self.workdir / "figures.json", *args,
        )  # fmt: skip
        found = run_measured(
            argv, self.workdir / "figures.json", self.workdir / "log", RUN_TIMEOUT_S
        )
        if found.returncode != 0:
            last = (found.log.strip().splitlines() or [""])[-1]
            raise RuntimeError(
                f"{PEER} {' '.join(args)} exited {found.returncode}: {last}\n{found.log}"
            )
        return found

    def items(self, side: Path) -> list[str]:
        return sorted(name for name in os.listdir(side) if name.endswith(vcards.EXTENSION))


def changes(peer: Peer, tag: str) -> tuple[dict[str, str], dict[str, str]]:
    """Edit ``CHANGES_PER_SIDE`` vCards on each side (different items); the companies written
    on A and on B, by file name."""
    names = peer.items(peer.a)
    on_a = {
        name: f"A-{tag}-{i}"
        for i, name in enumerate(vcards.spread(names, CHANGES_PER_SIDE, offset=False))
    }
    on_b = {
        name: f"B-{tag}-{i}"
        for i, name in enumerate(vcards.spread(names, CHANGES_PER_SIDE, offset=True))
    }
    for side, written in ((peer.a, on_a), (peer.b, on_b)):
        for name, company in written.items():
            vcards.edit(side / name, company)
    return on_a, on_b


def arrived(side: Path, written: dict[str, str]) -> int:
    found = 0
    for name, company in written.items():
        path = side / name
        if path.exists() and vcards.company(path.read_bytes().decode()) == company:
            found += 1
    return found


def sizes(quick: bool) -> list[int]:
    """The sync benchmark's sizes (``BENCH_SYNC_SIZES`` too), so both run on the same N."""
    if os.environ.get("BENCH_SYNC_SIZES"):
        return [int(size) for size in os.environ["BENCH_SYNC_SIZES"].split(",")]
    return list(QUICK_SIZES if quick else FULL_SIZES)


def _or_missing(value: float | None) -> float | str:
    return "not measured" if value is None else value


def run(quick: bool) -> tuple[list[Table], str]:
    initial = Table(
        f"Peer: {PEER} {PEER_VERSION} filesystem <-> filesystem, initial sync of the same N per "
        "side (vCards, 50% shared by UID), beside Tandem's initial sync (over HTTP, against the "
        "emulators). The peer's wall is its whole process, start-up included (its start-up: the "
        "discover run); Tandem's is its sync call",
        ["N per side", "records", "peer start-up s", "peer wall s", "peer CPU s",
         "peer records/s",
         "peer peak RSS MB", "Tandem wall s", "Tandem records/s", "Tandem peak RSS MB"],
    )  # fmt: skip
    incremental = Table(
        f"Peer: {2 * CHANGES_PER_SIDE} changes ({CHANGES_PER_SIDE} per side) after the initial "
        f"sync and one idle sync, {INCREMENTAL_ROUNDS} rounds (time: the median round), beside "
        "Tandem's",
        ["N per side", "items per side", "peer idle wall s", "peer changes wall s (median)",
         "peer rounds wall s", "arrived A->B", "arrived B->A", "peer peak RSS MB",
         "Tandem changes wall s (median)", "Tandem peak RSS MB"],
    )  # fmt: skip
    venv = HOME / "venv"
    missing = ensure_installed(venv)
    if missing is not None:
        note = f"{PEER} {PEER_VERSION} could not be installed ({missing}): peer figures missing"
        initial.add(*(["missing"] + [""] * 8 + [note]))
        return [initial], f"peer: missing ({PEER} not installed)"
    for n in sizes(quick):
        # A directory of this run's own: another benchmark run may be syncing beside it.
        peer = Peer(venv, Path(tempfile.mkdtemp(prefix="run-", dir=HOME)))
        side_a, side_b = vcards.sides(n)
        records = vcards.write_side(peer.a, side_a) + vcards.write_side(peer.b, side_b)
        try:
            discover = peer.run("discover", PAIR)
            first = peer.run("sync")
            idle = peer.run("sync")
            rounds, sent, got = [], 0, {"a->b": 0, "b->a": 0}
            for round_no in range(INCREMENTAL_ROUNDS):
                on_a, on_b = changes(peer, f"{n}-{round_no}")
                rounds.append(peer.run("sync"))
                sent += len(on_a)
                got["a->b"] += arrived(peer.b, on_a)
                got["b->a"] += arrived(peer.a, on_b)
            items = len(peer.items(peer.a))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            # The tool failing at one size is a figure missing, not a benchmark run lost.
            reason = str(exc).strip().splitlines()[0]
            initial.add(*([n, records] + [""] * 7 + [f"failed: {reason}"]))
            continue
        finally:
            shutil.rmtree(peer.workdir, ignore_errors=True)
        median = statistics.median(m.wall for m in rounds)
        figures.record("peer.initial.wall", first.wall, n)
        figures.record("peer.initial.records_per_s", records / first.wall, n)
        figures.record("peer.initial.rss_mb", first.peak_rss_mb, n)
        figures.record("peer.idle.wall", idle.wall, n)
        figures.record("peer.incremental.wall", median, n)
        figures.record("peer.incremental.rss_mb", max(m.peak_rss_mb for m in rounds), n)
        initial.add(
            n, records, discover.wall, first.wall, first.cpu, records / first.wall,
            first.peak_rss_mb,
            _or_missing(figures.get("sync.initial.wall", n)),
            _or_missing(figures.get("sync.initial.records_per_s", n)),
            _or_missing(figures.get("sync.initial.rss_mb", n)),
        )  # fmt: skip
        incremental.add(
            n, items, idle.wall, median, "/".join(f"{m.wall:.2f}" for m in rounds),
            f"{got['a->b']}/{sent}", f"{got['b->a']}/{sent}",
            max(m.peak_rss_mb for m in rounds),
            _or_missing(figures.get("sync.incremental.wall", n)),
            _or_missing(figures.get("sync.incremental.rss_mb", n)),
        )  # fmt: skip
    return [initial, incremental], summary()


def growth(name: str) -> float | None:
    """A figure at the largest size measured over the same at the smallest."""
    measured = figures.sizes(name)
    if len(measured) < 2:
        return None
    small, big = figures.get(name, measured[0]), figures.get(name, measured[-1])
    return big / small if small and big is not None else None


def summary() -> str:
    measured = figures.sizes("peer.initial.records_per_s")
    parts = [
        f"initial@{n:,} {figures.get('peer.initial.records_per_s', n) or 0:,.0f} records/s, "
        f"{figures.get('peer.initial.rss_mb', n) or 0:.0f} MB"
        for n in measured
    ]
    peer_growth, tandem_growth = growth("peer.incremental.wall"), growth("sync.incremental.wall")
    if peer_growth is not None:
        parts.append(
            f"100 changes time ratio {measured[-1]:,}/{measured[0]:,} x{peer_growth:.2f}"
            + (f" (Tandem x{tandem_growth:.2f})" if tandem_growth is not None else "")
        )
    return f"peer ({PEER} {PEER_VERSION}): " + ", ".join(parts)
