"""The validation suite in a child process (decisions I15) gives what it gives in-process, writes the Data Docs
into the folder it is given, hands tables over through files it deletes, and ends with its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from brukerplan.codes import load_codebook
from brukerplan.ingest.contract import registrations_schema
from brukerplan.ingest.validation import NESTED, GxValidator
from brukerplan.ingest.validation_worker import ValidationWorker, ValidationWorkerError
from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import rows_of, write_csv

pytestmark = pytest.mark.slow  # the child imports great-expectations (~5 s)


def _comparable(result: dict) -> dict:
    """A suite result without what differs between two runs of the same suite on the same table."""
    result = json.loads(json.dumps(result))
    result.pop("id", None)
    volatile = ("validation_id", "run_id", "validation_time")
    result["meta"] = {k: v for k, v in result["meta"].items() if k not in volatile}
    result["meta"].get("batch_markers", {}).pop("ge_load_time", None)
    for r in result["results"]:
        r["expectation_config"].pop("id", None)
    return result


@pytest.fixture
def landed_table(extracts, run_ingest, tmp_settings) -> pa.Table:
    write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", 25))
    run_ingest([extracts])
    return pq.read_table(next((tmp_settings.landing / "registrations").rglob("part-0.parquet")))


def test_the_child_gives_the_in_process_result(gx_validator, landed_table, tmp_path):
    doubled = pa.concat_tables([landed_table, landed_table])  # the lineage key is no longer unique
    spool = tmp_path / "spool"
    spool.mkdir()
    worker = ValidationWorker(load_codebook())
    worker.start(spool)
    try:
        for table in (landed_table, doubled):
            there, here = worker.submit(table).result(), gx_validator.validate(table)
            assert (there.success, there.failed) == (here.success, here.failed)
            assert _comparable(there.result) == _comparable(here.result)
        assert list(spool.iterdir()) == []  # the tables handed over are deleted
        docs = worker.data_docs("run", tmp_path / "docs")
        page = docs.add("label", worker.validate(doubled), ["a.csv"])
        index = docs.build()
        assert index == tmp_path / "docs" / "index.html" and index.is_file() and (index.parent / page).is_file()
    finally:
        worker.close()


def test_a_failure_in_the_child_is_raised_in_the_parent(tmp_path):
    worker = ValidationWorker(load_codebook())
    worker.start(tmp_path)
    try:
        with pytest.raises(ValidationWorkerError, match="validation failed in the validation process"):
            worker.call("docs_build", "a run that added no page")
        empty = pa.Table.from_batches([], registrations_schema())
        assert worker.validate(empty).result["schema_matches_contract"] is True  # the child goes on after a failure
    finally:
        worker.close()
    assert worker._process is None


def test_the_child_ends_with_its_parent(tmp_path):
    """A parent killed with SIGKILL closes the child's requests pipe: the child ends on its own."""
    pids = tmp_path / "pids"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from pathlib import Path\n"
            "from brukerplan.codes import load_codebook\n"
            "from brukerplan.ingest.validation_worker import ValidationWorker\n"
            "worker = ValidationWorker(load_codebook()); worker.start(Path(sys.argv[1]))\n"
            "Path(sys.argv[2]).write_text(str(worker._process.pid)); time.sleep(600)\n",
            str(tmp_path),
            str(pids),
        ]
    )
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text()):
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    child = int(pids.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=30)
    deadline = time.monotonic() + 120  # it may still be importing great-expectations
    while _alive(child):
        assert time.monotonic() < deadline, "the validation process outlived its parent"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended (init reaps it)


def test_the_command_lands_with_the_child(extracts, tmp_settings):
    """`brukerplan ingest` validates in the child: the result is kept beside the submission, the Data Docs built."""
    write_csv(extracts / "BP2016_K0301_20161201.csv", rows_of("v2", 20))
    env = dict(os.environ, BRUKERPLAN_LANDING=str(tmp_settings.landing), COLUMNS="200")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "brukerplan"), "ingest", str(extracts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(read_landed(tmp_settings.landing)) == 20
    [validation] = list((tmp_settings.landing / "validation").glob("*.json"))
    assert json.loads(validation.read_text())["success"] is True
    assert list((tmp_settings.landing / "data_docs").glob("*/index.html"))
    assert list((tmp_settings.landing / "_tmp").iterdir()) == []


def _plain_frame(table: pa.Table):
    """The frame as the suite saw it before (plain text columns, nullable integer age)."""
    frame = table.drop_columns([c for c in NESTED if c in table.column_names]).to_pandas()
    frame["age"] = frame["mapping_year"].astype("Int64") - frame["birth_year"].astype("Int64")
    return frame


def test_the_frame_the_suite_sees_changes_no_result(gx_validator, landed_table, monkeypatch):
    """Categorical text and int64 years make the suite faster, never different: passing and failing tables."""
    n = landed_table.num_rows

    def column(name: str, values: list) -> pa.Table:
        field = landed_table.schema.field(name)
        return landed_table.set_column(landed_table.schema.get_field_index(name), field, pa.array(values, field.type))

    births = landed_table.column("birth_year").to_pylist()
    tables = [
        landed_table,
        pa.concat_tables([landed_table, landed_table]),  # the lineage key repeated
        column("birth_year", [2015 if i % 3 == 0 else b for i, b in enumerate(births)]),  # ages outside 16-105
        column("sex", ["X" if i % 4 == 0 else "M" for i in range(n)]),  # outside the code list
        column("person_id", [None if i % 5 == 0 else "ABC" for i in range(n)]),  # null, not 16 hex
        column("mapping_year", [1990 if i % 2 else 2016 for i in range(n)]),  # year out of range
    ]
    fast = [gx_validator.validate(t) for t in tables]
    monkeypatch.setattr(GxValidator, "frame", staticmethod(_plain_frame))
    plain = [gx_validator.validate(t) for t in tables]
    for a, b in zip(fast, plain, strict=True):
        assert (a.success, a.failed) == (b.success, b.failed)
        assert _comparable(a.result) == _comparable(b.result)
    assert [a.success for a in fast] == [True, False, False, False, False, False]
