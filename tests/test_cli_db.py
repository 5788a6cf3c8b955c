"""``chatserver db copy``, run in-process (``chatserver.cli.main``) from a real SQLite file into a
real PostgreSQL database: what it prints and its exit status when the copy succeeds, is refused,
or finds counts that differ."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from chatserver.cli import main
from chatserver.storage.postgresql.database import PostgresDatabase

from .storage.sqlite.support import fill_file


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    return asyncio.run(fill_file(tmp_path / "chatserver.db"))


def _with_password(url: str) -> str:
    # The test cluster trusts every local connection, so any password is accepted (and must not show).
    return url.replace("://postgres@", "://postgres:hunter2@")


def test_a_copy_prints_each_tables_counts_and_a_second_one_is_refused(
        filled: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = _with_password(postgres_url)
    # From the command's own variables, as a URL with a password should be given.
    assert main(["db", "copy"], environ={"CHATSERVER_DB_COPY_FROM": str(filled), "CHATSERVER_DB_COPY_TO": url}) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["table", "SQLite", "PostgreSQL"] and err == ""
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert counts["messages"][0] == counts["messages"][1] != "0" and len(counts["kb_articles"]) == 2
    assert "kb_words" not in counts and "kb_search" not in counts  # SQLite's own search index
    assert lines[-1] == f"copied {filled} to {postgres_url}: every row of every table"
    assert "hunter2" not in out

    assert main(["db", "copy", "--from", str(filled), "--to", url], environ={}) == 2
    out, err = capsys.readouterr()
    assert out == "" and "already holds data" in err and "nothing was copied" in err and "hunter2" not in err


def test_counts_that_differ_roll_the_copy_back(filled: Path, postgres_url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    async def drop_ratings() -> None:  # a trigger on the target that quietly drops every rating
        target = PostgresDatabase(postgres_url, pool_min=1, pool_max=1)
        await target.open()  # migrated, as the copy would
        try:
            async with target.connection() as conn:
                await conn.execute("CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS "
                                   "'BEGIN RETURN NULL; END'; "
                                   "CREATE TRIGGER drop_ratings BEFORE INSERT ON ratings FOR EACH ROW "
                                   "EXECUTE FUNCTION drop_row()")
        finally:
            await target.close()

    asyncio.run(drop_ratings())
    assert main(["db", "copy", "--from", str(filled), "--to", postgres_url], environ={}) == 1
    out, err = capsys.readouterr()
    [ratings] = [line.split() for line in out.splitlines() if line.startswith("ratings ")]
    assert ratings == ["ratings", "1", "0", "*"]
    assert "differ" in err and "nothing was written" in err

    async def agents() -> int:
        conn = await asyncpg.connect(postgres_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM agents"))
        finally:
            await conn.close()

    assert asyncio.run(agents()) == 0


def test_a_missing_file_is_refused(tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "copy", "--from", str(tmp_path / "typo.db"), "--to", postgres_url], environ={}) == 2
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "typo.db").exists()


def test_both_options_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["db", "copy", "--to", "postgresql://x@127.0.0.1/y"], environ={})
    assert exit_.value.code == 2 and "CHATSERVER_DB_COPY_FROM" in capsys.readouterr().err
