"""``chatserver migrate [--check]`` and ``migrate_on_start`` (chatserver/cli_db.py, app.py), run as
real processes on SQLite and on PostgreSQL: pending migrations are reported (exit 3) without
being applied, applied one by one with a log line each; ``serve`` with ``migrate_on_start`` false
refuses to start while any is pending; a schema newer than the code is refused in one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatserver.cli_db import MIGRATIONS_PENDING
from chatserver.storage.postgresql.database import migrations as postgresql_migrations
from chatserver.storage.sqlite.database import migrations as sqlite_migrations

from .postgres_server import PostgresServer
from .processes import ServerProcess
from .storage.sqlite.test_migrations import _database_at
from .test_cli import _run, _run_at_once


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("PRAGMA user_version").fetchone()[0])


def _one_error_line(stderr: str) -> str:
    """The only line of ``stderr``, which must be a start-up error's."""
    [line] = stderr.splitlines()
    assert line.startswith("chatserver: error: "), stderr
    return line


def test_sqlite_pending_migrations_are_checked_refused_at_start_when_told_then_applied(tmp_path: Path) -> None:
    (previous, _), (newest, _) = sqlite_migrations()[-2:]
    path = tmp_path / "chatserver.db"
    _database_at(path, previous).close()

    checked, refused = _run_at_once((["migrate", "--check"], None),
                                    (["serve", "--port", "0"], {"CHATSERVER_MIGRATE_ON_START": "false"}),
                                    data_dir=tmp_path)
    assert checked.returncode == MIGRATIONS_PENDING, checked.stderr
    assert checked.stdout == f"the database {path}: 1 migration(s) pending: {newest}\n"
    assert refused.returncode == 1
    assert _one_error_line(refused.stderr) == (
        f"chatserver: error: the database {path} lacks 1 migration(s) of this version ({newest}) and "
        "migrate_on_start is false: run `chatserver migrate`")
    assert _user_version(path) == previous  # neither applied anything

    migrated = _run("migrate", data_dir=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"INFO chatserver.storage database migrated version={newest} database={path}" in migrated.stderr
    assert "version=" + str(previous) not in migrated.stderr
    assert migrated.stdout == f"the database {path}: applied 1 migration(s): {newest}; the schema is current\n"
    assert _user_version(path) == newest
    current = _run("migrate", "--check", data_dir=tmp_path)
    assert (current.returncode, current.stdout) == (0, f"the database {path}: the schema is current\n")

    server = ServerProcess(tmp_path, None, CHATSERVER_MIGRATE_ON_START="false").start()  # nothing pending now
    server.stop()


def test_a_new_sqlite_database_is_migrated_with_a_line_for_each_migration(tmp_path: Path) -> None:
    # A mistyped data directory: nothing made.
    for typo in _run_at_once((["migrate"], None), (["migrate", "--check"], None), data_dir=tmp_path / "typo"):
        assert typo.returncode == 2 and "does not exist" in _one_error_line(typo.stderr)
    assert not (tmp_path / "typo").exists()
    checked = _run("migrate", "--check", data_dir=tmp_path)
    assert checked.returncode == MIGRATIONS_PENDING
    assert not (tmp_path / "chatserver.db").exists()  # a check creates nothing
    migrated = _run("migrate", data_dir=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    logged = [line.split("version=")[1].split()[0] for line in migrated.stderr.splitlines()
              if "database migrated" in line]
    assert logged == [str(version) for version, _ in sqlite_migrations()]


def test_an_sqlite_schema_newer_than_the_code_is_refused_in_one_line(tmp_path: Path) -> None:
    newest = sqlite_migrations()[-1][0]
    path = tmp_path / "chatserver.db"
    _database_at(path, newest).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newest + 1}")
    expected = (f"chatserver: error: the database {path} has schema version {newest + 1}, newer than this "
                f"chatserver knows ({newest}): run the version that migrated it (or a newer one), or restore a "
                "backup taken before")
    for done in _run_at_once((["serve", "--port", "0"], None), (["migrate"], None), (["migrate", "--check"], None),
                             data_dir=tmp_path):
        assert done.returncode == 1, done.args
        assert _one_error_line(done.stderr) == expected, done.args
    assert _user_version(path) == newest + 1


def test_postgresql_migrations_checked_applied_and_a_newer_schema_refused(
        tmp_path: Path, postgres_server: PostgresServer, postgres_url: str) -> None:
    env = {"CHATSERVER_DATABASE_URL": postgres_url}
    versions = [version for version, _ in postgresql_migrations()]
    where = f"PostgreSQL at {postgres_url}"

    checked, refused = _run_at_once((["migrate", "--check"], env),
                                    (["serve", "--port", "0"], {**env, "CHATSERVER_MIGRATE_ON_START": "false"}),
                                    data_dir=tmp_path)
    assert checked.returncode == MIGRATIONS_PENDING, checked.stderr
    assert checked.stdout == f"{where}: {len(versions)} migration(s) pending: {', '.join(map(str, versions))}\n"
    assert refused.returncode == 1
    assert "migrate_on_start is false: run `chatserver migrate`" in _one_error_line(refused.stderr)

    migrated = _run("migrate", data_dir=tmp_path, env=env)
    assert migrated.returncode == 0, migrated.stderr
    logged = [line.split("version=")[1].split()[0] for line in migrated.stderr.splitlines()
              if "database migrated" in line]
    assert logged == [str(version) for version in versions]
    current = _run("migrate", "--check", data_dir=tmp_path, env=env)
    assert (current.returncode, current.stdout) == (0, f"{where}: the schema is current\n")
    again = _run("migrate", data_dir=tmp_path, env=env)
    assert again.returncode == 0 and "database migrated" not in again.stderr

    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.psql(f"INSERT INTO schema_migrations (version) VALUES ({versions[-1] + 1})", database)
    for done in _run_at_once((["serve", "--port", "0"], env), (["migrate", "--check"], env), data_dir=tmp_path):
        assert done.returncode == 1, done.args
        assert _one_error_line(done.stderr).startswith(
            f"chatserver: error: {where} has schema version {versions[-1] + 1}, newer than this chatserver knows "
            f"({versions[-1]})"), done.args
