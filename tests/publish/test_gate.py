"""The build gate of `brukerplan publish` (docs/publishing.md, "When publish refuses"): it reads the build record
dbt wrote into the warehouse (meta.build_record) and nothing else; it refuses a last invocation that failed,
never finished or was not a `build`, and a warehouse without a record (exit 1, the published file untouched);
it warns when the landing zone has submissions the build did not read and refuses them with --require-current.
The records here are written by tests/publish/warehouse_fixture.py; tests/warehouse runs the real dbt hooks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from brukerplan.cli import app
from brukerplan.publish import PublishError, publish
from brukerplan.settings import Settings
from tests.core.landing_fixture import Submission, write_submission
from tests.publish.test_command import SMALL, _publication_id
from tests.publish.warehouse_fixture import make_warehouse, write_build_record
from tests.support import settings_under

FAILING_TEST = "test.brukerplan.not_null_mart_trends_persons"


@pytest.fixture
def small(tmp_path: Path) -> Settings:
    settings = settings_under(tmp_path)
    make_warehouse(settings.warehouse, SMALL)
    return settings


def _publish(settings: Settings, *extra: str) -> tuple[int, str]:
    args = ["publish", "--warehouse", str(settings.warehouse), "--published", str(settings.published)]
    result = CliRunner().invoke(app, [*args, "--landing", str(settings.landing), *extra], terminal_width=400)
    return result.exit_code, " ".join(result.output.split())


def _land(landing: Path, *ids: str) -> None:
    for i, submission_id in enumerate(ids):
        write_submission(landing, Submission(submission_id, 2021, "K5001", dt.date(2022, 3, 1), delivery_seq=i))


def test_a_failed_build_refuses_and_keeps_the_published_file(small: Settings) -> None:
    assert _publish(small)[0] == 0
    before = _publication_id(small)
    write_build_record(small.warehouse, status="not green", failing=((FAILING_TEST, "fail"),))
    code, out = _publish(small)
    assert code == 1
    assert "not green" in out and f"{FAILING_TEST}: fail" in out and "published file unchanged" in out
    assert _publication_id(small) == before


@pytest.mark.parametrize(
    ("command", "status", "says"),
    [("run", "green", "not `build`"), ("test", "green", "not `build`"), ("build", "running", "never finished")],
)
def test_refuses_a_last_invocation_that_was_not_a_finished_build(
    small: Settings, command: str, status: str, says: str
) -> None:
    write_build_record(small.warehouse, status=status, command=command)
    code, out = _publish(small)
    assert code == 1 and says in out and f"dbt {command}" in out
    assert not small.published.exists()


def test_refuses_a_warehouse_without_a_build_record(small: Settings) -> None:
    con = duckdb.connect(str(small.warehouse))
    con.execute("drop schema meta cascade")
    con.close()
    code, out = _publish(small)
    assert code == 1 and "no build record" in out


def test_the_newest_record_decides(small: Settings) -> None:
    write_build_record(small.warehouse, status="not green", failing=((FAILING_TEST, "error"),))
    assert _publish(small)[0] == 1
    later = write_build_record(small.warehouse)
    code, out = _publish(small)
    assert code == 0, out
    con = duckdb.connect(str(small.published), read_only=True)
    assert con.execute("select dbt_invocation_id from publication_metadata").fetchone()[0] == later
    con.close()


def test_run_results_json_plays_no_part(small: Settings) -> None:
    """dbt's run_results.json (where the gate used to look) neither refuses nor admits a build."""
    target = small.warehouse.parent / "dbt_target"
    target.mkdir()
    failed = {"args": {"which": "build"}, "results": [{"unique_id": FAILING_TEST, "status": "fail"}]}
    (target / "run_results.json").write_text(json.dumps(failed), encoding="utf-8")
    assert _publish(small)[0] == 0
    green = {"args": {"which": "build"}, "results": [{"unique_id": FAILING_TEST, "status": "pass"}]}
    (target / "run_results.json").write_text(json.dumps(green), encoding="utf-8")
    write_build_record(small.warehouse, status="not green", failing=((FAILING_TEST, "fail"),))
    assert _publish(small)[0] == 1


def test_submissions_the_build_did_not_read_warn_or_refuse_with_require_current(small: Settings) -> None:
    _land(small.landing, "aaaa000000000001", "aaaa000000000002")
    write_build_record(small.warehouse, submissions=("aaaa000000000001", "aaaa000000000002"))
    code, out = _publish(small)
    assert code == 0 and "does not include" not in out
    first = _publication_id(small)
    _land(small.landing, "bbbb000000000003", "bbbb000000000004", "bbbb000000000005")
    code, out = _publish(small)
    assert code == 0, out
    assert "warning" in out and "has 3 submissions that the warehouse does not include" in out
    assert "bbbb000000000003" in out and "--require-current" in out
    second = _publication_id(small)
    assert second != first
    code, out = _publish(small, "--require-current")
    assert code == 1 and "has 3 submissions that the warehouse does not include" in out
    assert _publication_id(small) == second


def test_require_current_refuses_when_the_landing_zone_is_not_there(small: Settings) -> None:
    with pytest.raises(PublishError, match="not found"):
        publish(small, require_current=True)
    warnings = [w for w in publish(small).warnings if str(small.landing) in w]
    assert len(warnings) == 1 and "not found" in warnings[0]
