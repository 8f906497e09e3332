"""`brukerplan build` builds a new file and swaps it in when green (docs/decisions.md W1): readers holding the
warehouse open neither block the build nor see half of it; a build that fails mid-way leaves the warehouse as it
was, deletes its new file and says so; publish then names the submission the warehouse lacks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brukerplan.cli import app
from brukerplan.publish.gate import BuildNotGreen, check_build
from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.record import failed_attempt_path
from tests.support import run_cli
from tests.warehouse.conftest import Built, copy_project, leftovers, mode, read_record

pytestmark = pytest.mark.slow

VERSION = "select count(*) from staging.stg_landing__submissions"
MARTS = "select count(*), sum(persons) from marts.mart_trends"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _answer(con: duckdb.DuckDBPyConnection) -> tuple[int, tuple]:
    return con.execute(VERSION).fetchone()[0], con.execute(MARTS).fetchone()  # type: ignore[index]


class HeldReader(threading.Thread):
    """While the build runs, the connection an analyst holds open answers in a loop (answers and errors kept)."""

    def __init__(self, held: duckdb.DuckDBPyConnection) -> None:
        super().__init__(daemon=True)
        self.cursor = held.cursor()
        self.stop = threading.Event()
        self.answers: list[tuple[int, tuple]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.answers.append(_answer(self.cursor))
            except duckdb.Error as exc:
                self.errors.append(str(exc))
            self.stop.wait(0.2)


# Another process (DuckDB shares one database instance per file within a process) that opens a new read-only
# connection for every query, as a BI tool that reconnects; it prints each answer or error as a JSON line.
RECONNECTING = """
import duckdb, json, pathlib, sys, time
path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
while not stop.exists():
    try:
        con = duckdb.connect(path, read_only=True)
        answer = [con.execute(sys.argv[3]).fetchone()[0], list(con.execute(sys.argv[4]).fetchone())]
        con.close()
        print(json.dumps({"answer": answer}), flush=True)
    except duckdb.Error as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
    time.sleep(0.2)
"""


def _reconnecting(warehouse: Path, stop: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RECONNECTING, str(warehouse), str(stop), VERSION, MARTS],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_readers_keep_their_version_and_the_build_swaps_in(built: Built, tmp_path: Path) -> None:
    settings = built.settings
    reader = duckdb.connect(str(settings.warehouse), read_only=True)
    old = _answer(reader)
    old_record = read_record(settings.warehouse)
    built.add_held_submission()
    held = HeldReader(reader)
    held.start()
    stop = tmp_path / "stop"
    reconnecting = _reconnecting(settings.warehouse, stop)
    assert reconnecting.stdout is not None
    first = reconnecting.stdout.readline()  # it answers before the build starts
    try:
        build = run_cli("build", "--landing", str(settings.landing), "--warehouse", str(settings.warehouse))
    finally:
        held.stop.set()
        held.join()
        stop.touch()
        rest, _ = reconnecting.communicate(timeout=120)
    assert build.returncode == 0, build.stdout + build.stderr
    assert "warehouse replaced" in build.stdout
    assert held.errors == []
    assert held.answers and set(held.answers) == {old}  # the held connection: the old version only
    assert _answer(reader) == old  # still, after the swap
    reader.close()
    new = duckdb.connect(str(settings.warehouse), read_only=True)
    current = _answer(new)
    new.close()
    assert current[0] == old[0] + 1
    seen = [json.loads(line) for line in (first + rest).splitlines()]
    assert seen and [s for s in seen if "error" in s] == []
    versions = [(a[0], tuple(a[1])) for a in (s["answer"] for s in seen)]
    assert versions[0] == old and set(versions) <= {old, current}  # one version or the other, never a mix
    assert versions == sorted(versions, key=lambda v: v != old)  # old until the swap, new after it
    record = read_record(settings.warehouse)
    assert old_record and record and record.invocation_id != old_record.invocation_id
    assert record.is_green_build and built.held in (record.submission_ids or ())
    assert leftovers(settings.warehouse.parent) == []
    assert mode(settings.warehouse) == 0o600


def test_a_model_failing_mid_build_leaves_the_warehouse_untouched(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = built.settings
    project = copy_project(PROJECT_DIR, tmp_path / "project")
    # runs after the core models, beside the marts: the build is half done when it fails
    (project / "models" / "marts" / "zz_fails_mid_build.sql").write_text(
        "select error('simulated failure in the middle of the build') as failed\nfrom {{ ref('fct_person_year') }}\n",
        encoding="utf-8",
    )
    before, before_record = _sha256(settings.warehouse), read_record(settings.warehouse)
    built.add_held_submission()
    load = Settings.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        Settings, "load", classmethod(lambda cls, *a, **k: load(cls, *a, **k).with_paths(project_dir=project))
    )
    result = CliRunner().invoke(
        app,
        ["build", "--landing", str(settings.landing), "--warehouse", str(settings.warehouse)],
        terminal_width=400,
    )
    out = " ".join(result.output.split())
    assert result.exit_code == 1, out
    assert "zz_fails_mid_build" in out and "simulated failure" in out
    assert "not swapped in" in out and "the new file was deleted" in out and "is unchanged" in out
    assert before_record and before_record.invocation_id in out  # names the build the warehouse still holds
    assert _sha256(settings.warehouse) == before
    assert read_record(settings.warehouse) == before_record
    assert leftovers(settings.warehouse.parent) == []
    # the warehouse is the previous green build, so publish refuses it by default: the newest attempt failed
    assert failed_attempt_path(settings.warehouse).is_file() and mode(failed_attempt_path(settings.warehouse)) == 0o600
    con = duckdb.connect()
    con.execute(f"attach '{settings.warehouse}' as wh (read_only)")
    with pytest.raises(BuildNotGreen, match="the last `brukerplan build` failed"):
        check_build(con, "wh", settings.landing, warehouse=settings.warehouse)
    # deliberately allowed, it still names the submission the warehouse lacks
    gate = check_build(con, "wh", settings.landing, warehouse=settings.warehouse, allow_failed_rebuild=True)
    con.close()
    assert gate.missing == (built.held,) and "has 1 submission that the warehouse does not include" in gate.warnings[-1]
    assert "--allow-failed-rebuild" in gate.warnings[0]
    monkeypatch.undo()
    published = tmp_path / "published" / "brukerplan.duckdb"
    where = ("--landing", str(settings.landing), "--warehouse", str(settings.warehouse), "--published", str(published))
    publish = run_cli("publish", *where)
    text = " ".join(publish.stdout.split())
    assert publish.returncode == 1, text
    assert "the last `brukerplan build` failed" in text and "--allow-failed-rebuild" in text
    publish = run_cli("publish", "--allow-failed-rebuild", "--require-current", *where)
    text = " ".join(publish.stdout.split())
    assert publish.returncode == 1, text
    assert "has 1 submission that the warehouse does not include" in text and built.held in text
    assert not published.exists()
