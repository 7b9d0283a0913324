import configparser
import json
import os
import sys
from pathlib import Path

import pytest

from bench import figures, peer

FAKE_PEER = """\
import json, sys
from pathlib import Path
Path(sys.argv[0]).with_name("argv.json").write_text(json.dumps(sys.argv[1:]))
ballast = bytearray(int(sys.argv[1]) * 1024 * 1024) if sys.argv[1].isdigit() else b""
print("fake peer ran")
sys.exit(int(sys.argv[-1]) if len(sys.argv) > 2 and sys.argv[-1].isdigit() else 0)
"""


def fake_venv(tmp_path: Path) -> Path:
    """A virtualenv whose python is this one and whose vdirsyncer is FAKE_PEER."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venv / "bin" / "python")
    (venv / "bin" / "vdirsyncer").write_text(FAKE_PEER)
    return venv


def test_the_peer_is_installed_pinned_into_its_own_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "bench-peer" / "venv"
    create, install = peer.install_commands(venv, python="/usr/bin/python3")
    assert create == ["/usr/bin/python3", "-m", "venv", "--clear", str(venv)]
    assert install[:4] == [str(venv / "bin" / "python"), "-m", "pip", "install"]
    assert install[-1] == f"vdirsyncer=={peer.PEER_VERSION}"
    assert peer.PEER_VERSION.count(".") == 2


def test_no_virtualenv_means_no_installed_version(tmp_path: Path) -> None:
    assert peer.installed_version(tmp_path / "nowhere") is None


def test_the_config_pairs_two_filesystem_storages_with_side_a_winning(tmp_path: Path) -> None:
    parser = configparser.ConfigParser()
    parser.read_string(peer.config_text(tmp_path / 'dir with "quotes"'))
    base = str(tmp_path / 'dir with "quotes"')
    assert json.loads(parser["general"]["status_path"]) == base + "/status/"
    pair = parser["pair contacts"]
    assert json.loads(pair["a"]) == "contacts_a"
    assert json.loads(pair["collections"]) is None
    assert json.loads(pair["conflict_resolution"]) == "a wins"
    for side in ("a", "b"):
        storage = parser[f"storage contacts_{side}"]
        assert json.loads(storage["type"]) == "filesystem"
        assert json.loads(storage["path"]) == f"{base}/{side}/"
        assert json.loads(storage["fileext"]) == ".vcf"


def test_a_command_runs_the_script_under_the_probe_with_quiet_output(tmp_path: Path) -> None:
    argv = peer.command(
        Path("/v/bin/python"), Path("/v/bin/vdirsyncer"), tmp_path / "config",
        tmp_path / "figures.json", "sync",
    )  # fmt: skip
    assert argv[:3] == ["/v/bin/python", "-c", peer.PROBE]
    assert argv[3:] == [
        str(tmp_path / "figures.json"), "/v/bin/vdirsyncer", "--verbosity", "WARNING",
        "--config", str(tmp_path / "config"), "sync",
    ]  # fmt: skip


def test_a_measured_run_reports_the_childs_own_peak_rss_and_exit_status(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path)
    script = venv / "bin" / "vdirsyncer"
    argv = [sys.executable, "-c", peer.PROBE, str(tmp_path / "f.json"), str(script), "120", "3"]
    found = peer.run_measured(argv, tmp_path / "f.json", tmp_path / "log", timeout=60)
    assert found.returncode == 3
    assert 120 <= found.peak_rss_mb < 400
    assert "fake peer ran" in found.log
    assert found.wall > 0
    assert json.loads((venv / "bin" / "argv.json").read_text()) == ["120", "3"]


def test_a_small_child_is_not_charged_with_a_big_parents_memory(tmp_path: Path) -> None:
    ballast = bytearray(150 * 1024 * 1024)  # this process grows by 150 MB before the fork
    venv = fake_venv(tmp_path)
    argv = [sys.executable, "-c", peer.PROBE, str(tmp_path / "f.json"),
            str(venv / "bin" / "vdirsyncer"), "0"]  # fmt: skip
    found = peer.run_measured(argv, tmp_path / "f.json", tmp_path / "log", timeout=60)
    assert len(ballast) and found.peak_rss_mb < 100


def test_the_peer_runs_a_subcommand_with_its_config_and_refuses_a_failure(tmp_path: Path) -> None:
    runner = peer.Peer(fake_venv(tmp_path), tmp_path / "work")
    runner.workdir.mkdir()
    found = runner.run("sync")
    argv = json.loads((runner.venv / "bin" / "argv.json").read_text())
    assert argv == ["--verbosity", "WARNING", "--config", str(runner.workdir / "config"), "sync"]
    assert "[pair contacts]" in (runner.workdir / "config").read_text()
    assert found.returncode == 0
    with pytest.raises(RuntimeError, match="exited 2"):
        runner.run("7", "2")


def test_sizes_follow_the_sync_benchmarks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_SYNC_SIZES", raising=False)
    assert peer.sizes(True) == [1_000]
    assert peer.sizes(False) == [1_000, 10_000, 100_000]
    monkeypatch.setenv("BENCH_SYNC_SIZES", "200,5000")
    assert peer.sizes(False) == [200, 5_000]


def test_a_peer_that_cannot_be_installed_is_reported_missing_and_measures_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peer, "ensure_installed", lambda venv: "pip exited 1: no network")
    figures.clear()
    tables, summary = peer.run(True)
    assert summary == "peer: missing (vdirsyncer not installed)"
    assert "could not be installed (pip exited 1: no network)" in tables[0].rows[0][-1]
    assert figures.snapshot() == {}


def test_a_peer_failing_at_one_size_leaves_a_failed_row_and_no_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = fake_venv(tmp_path)
    (venv / "bin" / "vdirsyncer").write_text(
        "import sys\nprint('critical: broken')\nsys.exit(1 if sys.argv[-1] == 'sync' else 0)\n"
    )
    monkeypatch.setattr(peer, "HOME", tmp_path)
    monkeypatch.setattr(peer, "ensure_installed", lambda venv: None)
    monkeypatch.setenv("BENCH_SYNC_SIZES", "10")
    figures.clear()
    tables, _ = peer.run(True)
    assert list(tables[0].rows[0]) == (
        [10, 20] + [""] * 7 + ["failed: vdirsyncer sync exited 1: critical: broken"]
    )
    assert figures.snapshot() == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["venv"]
