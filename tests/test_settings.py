"""Bad configuration stops start-up with a message that names the setting."""

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "SECRET_KEY": "s" * 60,
    "FERNET_KEYS": base64.urlsafe_b64encode(b"k" * 32).decode(),
    "DATABASE_URL": "postgres://tandem@127.0.0.1:5432/tandem",
    "DJANGO_ALLOWED_HOSTS": "tandem.example.com",
}


def start(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k != "DJANGO_SETTINGS_MODULE"}
    env.update(GOOD)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    env["TANDEM_ENV_FILE"] = str(ROOT / "does-not-exist.env")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_good_production_settings() -> None:
    result = start()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize("setting", ["SECRET_KEY", "FERNET_KEYS", "DATABASE_URL"])
def test_it_refuses_to_start_without_a_required_setting(setting: str) -> None:
    result = start(**{setting: None})
    assert result.returncode != 0
    assert setting in result.stderr.splitlines()[-1]


def test_it_names_a_malformed_database_url_without_echoing_it() -> None:
    result = start(DATABASE_URL="not a url:secret-password@")
    assert result.returncode != 0
    assert "DATABASE_URL is malformed" in result.stderr
    assert "secret-password" not in result.stderr


def test_it_refuses_a_fernet_key_that_is_not_one() -> None:
    result = start(FERNET_KEYS=GOOD["FERNET_KEYS"] + ",not-a-key")
    assert result.returncode != 0
    assert "FERNET_KEYS: key #2 is not a Fernet key" in result.stderr


@pytest.mark.parametrize("value", ["0", "-5", "3600", "nan", "soon"])
def test_it_refuses_a_dispatcher_tick_out_of_range(value: str) -> None:
    result = start(TANDEM_DISPATCH_EVERY_SECONDS=value)
    assert result.returncode != 0
    assert "TANDEM_DISPATCH_EVERY_SECONDS must be between 1 and 60" in result.stderr


def test_it_dispatches_several_times_within_the_default_polling_interval() -> None:
    from django.conf import settings

    tick = settings.CELERY_BEAT_SCHEDULE["dispatch-due-connections"]["schedule"]
    # A run that ends just after a tick is claimed at most one tick after it falls due.
    assert tick == settings.TANDEM_DISPATCH_EVERY_SECONDS
    assert tick * 4 <= settings.TANDEM_SYNC_INTERVAL_SECONDS


def sqlite_pragmas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any, *names: str
) -> list[Any]:
    """The ``names`` pragmas' values on a new connection to a SQLite ``DATABASE_URL``."""
    from django.db.utils import ConnectionHandler

    from config.settings.base import database_from_env

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tandem.sqlite3'}")
    handler = ConnectionHandler({"default": database_from_env("sqlite:///unused.sqlite3")})
    db = handler["default"]
    values = []
    try:
        with django_db_blocker.unblock(), db.cursor() as cursor:
            for name in names:
                cursor.execute(f"PRAGMA {name}")
                values.append(cursor.fetchone()[0])
    finally:
        db.close()
    return values


def test_a_sqlite_database_keeps_a_write_ahead_log_synced_at_its_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> None:
    journal, synchronous = sqlite_pragmas(
        tmp_path, monkeypatch, django_db_blocker, "journal_mode", "synchronous"
    )
    # 1 is NORMAL: the log is synced at its checkpoints, not at every commit.
    assert (journal, synchronous) == ("wal", 1)


def test_a_sqlite_connection_caches_at_most_512_kib_of_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> None:
    [cache_size] = sqlite_pragmas(tmp_path, monkeypatch, django_db_blocker, "cache_size")
    # Negative: a size in KiB (a positive figure would count pages); SQLite's default is -2000.
    assert cache_size == -512


def test_a_sqlite_database_opens_in_a_directory_not_made_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: Any
) -> None:
    # A fresh clone has no data/ until something makes it; SQLite makes the file, not the
    # directory, and makemigrations or migrate said "unable to open database file".
    from django.db.utils import ConnectionHandler

    from config.settings.base import database_from_env

    path = tmp_path / "data" / "fresh" / "tandem.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    db = ConnectionHandler({"default": database_from_env("sqlite:///unused.sqlite3")})["default"]
    try:
        with django_db_blocker.unblock(), db.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x integer)")
    finally:
        db.close()
    assert path.is_file()


def test_a_postgresql_database_gets_no_sqlite_pragmas(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings.base import database_from_env

    monkeypatch.setenv("DATABASE_URL", GOOD["DATABASE_URL"])
    assert "init_command" not in database_from_env("sqlite:///unused.sqlite3").get("OPTIONS", {})
