"""The landing zone (warehouse.md "Landing zone"): an exclusive lock, atomic writes through _tmp, the submission
record written last, quarantine, and the clean-up of what a crashed run left behind.

A submission exists if and only if submissions/<id>.json exists. Nothing here overwrites or deletes anything
that belongs to a submission or a quarantined file."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from brukerplan.durable import fsync_dir
from brukerplan.restricted import PRIVATE_UMASK, private_dir

PAUSE_AT_ENV = "BRUKERPLAN_INGEST_PAUSE_AT"
"""Test hook: comma-separated checkpoint names at which the run stops (see `checkpoint`)."""
PAUSE_FILE_ENV = "BRUKERPLAN_INGEST_PAUSE_FILE"
"""Test hook: a file the run writes the checkpoint name to before it sleeps, so a test can kill it there."""


def checkpoint(name: str) -> None:
    """Pause here for up to 10 minutes when the test hook asks for this checkpoint (no effect otherwise)."""
    wanted = os.environ.get(PAUSE_AT_ENV, "")
    if name not in {w.strip() for w in wanted.split(",") if w.strip()}:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        # atomically: a test that sees the marker file sees its text (written beside it, then renamed)
        path = Path(marker)
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        partial = path.with_name(path.name + ".partial")
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(before + name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    time.sleep(600)


class LockTimeout(RuntimeError):
    """Another ingest run held the landing zone longer than the lock timeout."""


def _write_bytes(path: Path, data: bytes | pa.Buffer, sync: bool = True) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        if sync:
            os.fsync(handle.fileno())


def _parquet_bytes(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _write_json(path: Path, payload: Any, sync: bool = True) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n"
    _write_bytes(path, text.encode("utf-8"), sync)


@dataclass
class Submission:
    """Everything that lands for one file."""

    submission_id: str
    year: int
    registrations: pa.Table
    rejects: pa.Table
    validation: dict | bytes  # the suite's result, or its JSON text
    record: dict


@dataclass
class Known:
    """What the zone already holds: content hashes and delivery keys of submissions, quarantined hashes."""

    landed: dict[str, dict] = field(default_factory=dict)  # sha256 -> record
    quarantined: dict[str, dict] = field(default_factory=dict)  # sha256 -> report
    deliveries: dict[tuple, dict] = field(default_factory=dict)  # (year, scope, date, seq) -> record


class LandingZone:
    """Use as a context manager: takes the lock (waiting up to `lock_timeout` seconds), then cleans up."""

    def __init__(self, root: Path, lock_timeout: float = 600.0, on_wait: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait
        self._lock_handle: Any = None
        self._umask: int | None = None
        self.cleaned: list[str] = []
        self._staged: set[str] = set()  # submission ids whose data files `stage` wrote to _tmp
        self._no_rejects: pa.Buffer | None = None  # an empty rejects file, serialised

    # paths
    @property
    def tmp(self) -> Path:
        return self.root / "_tmp"

    def partition(self, table: str, year: int, submission_id: str) -> Path:
        return self.root / table / f"year={year}" / f"submission_id={submission_id}"

    def record_path(self, submission_id: str) -> Path:
        return self.root / "submissions" / f"{submission_id}.json"

    # lock
    def __enter__(self) -> LandingZone:
        private_dir(self.root)
        handle = open(self.root / ".lock", "a+")
        os.chmod(self.root / ".lock", 0o600)
        deadline = time.monotonic() + self.lock_timeout
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and self.on_wait:
                    self.on_wait(
                        f"another ingest run holds the landing zone {self.root} (lock {self.root / '.lock'}); "
                        f"waiting up to {self.lock_timeout:.0f} s"
                    )
                    told = True
                if time.monotonic() >= deadline:
                    handle.close()
                    raise LockTimeout(
                        f"the landing zone {self.root} stayed locked by another ingest run for "
                        f"{self.lock_timeout:.0f} s; nothing was ingested"
                    ) from None
                time.sleep(0.2)
        self._lock_handle = handle
        self._umask = os.umask(PRIVATE_UMASK)  # the landing zone is restricted; restored in __exit__
        for sub in ("_tmp", "registrations", "rejects", "validation", "submissions", "quarantine"):
            (self.root / sub).mkdir(exist_ok=True)
        self.cleanup()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._umask is not None:
            os.umask(self._umask)
            self._umask = None
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def cleanup(self) -> list[str]:
        """Remove what a crashed run left: everything in _tmp, partitions and validation results without a record."""
        removed: list[str] = []
        for item in self.tmp.iterdir():
            shutil.rmtree(item) if item.is_dir() else item.unlink()
            removed.append(str(item.relative_to(self.root)))
        records = {p.stem for p in (self.root / "submissions").glob("*.json")}
        for table in ("registrations", "rejects"):
            for part in (self.root / table).glob("year=*/submission_id=*"):
                if part.name.split("=", 1)[1] not in records:
                    shutil.rmtree(part)
                    removed.append(str(part.relative_to(self.root)))
        for result in (self.root / "validation").glob("*.json"):
            if result.stem not in records:
                result.unlink()
                removed.append(str(result.relative_to(self.root)))
        self.cleaned = removed
        return removed

    def known(self) -> Known:
        known = Known()
        for path in sorted((self.root / "submissions").glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            known.landed[record["sha256"]] = record
            key = (record["mapping_year"], record["scope"], record["delivered_on"], record["delivery_seq"])
            known.deliveries[key] = record
        for folder in (self.root / "quarantine").iterdir():
            report = folder / "report.json"
            if report.exists():
                known.quarantined[folder.name] = json.loads(report.read_text(encoding="utf-8"))
        return known

    # writing
    def stage(self, submission_id: str, registrations: pa.Table, rejects: pa.Table, record: dict) -> None:
        """Write a submission's data files and record to _tmp ahead of `land` (e.g. while its batch is being
        validated): nothing there is visible, and nothing is durable before `land`."""
        work = self.tmp / submission_id
        work.mkdir()
        _write_json(work / "record.json", record, sync=False)
        # serialised in memory and written at once: a Parquet writer on a file makes ~100 small writes and seeks
        _write_bytes(work / "registrations.parquet", _parquet_bytes(registrations), sync=False)
        if rejects.num_rows:
            _write_bytes(work / "rejects.parquet", _parquet_bytes(rejects), sync=False)
        else:  # most files have none: the same empty file each time, serialised once
            if self._no_rejects is None:
                self._no_rejects = _parquet_bytes(rejects)
            _write_bytes(work / "rejects.parquet", self._no_rejects, sync=False)
        self._staged.add(submission_id)

    def discard(self, submission_id: str) -> None:
        """Remove what `stage` wrote for a submission that will not land."""
        if submission_id in self._staged:
            self._staged.discard(submission_id)
            shutil.rmtree(self.tmp / submission_id)

    def land(self, items: list[Submission]) -> None:
        """Land submissions in order. Data files (unless staged already) and validation results go to _tmp, are
        made durable, renamed into place and made durable again; only then is each record renamed into place (the
        commit point), in order. Durability uses one os.sync() per phase instead of an fsync per file and folder (a
        run may land a thousand small files; an fsync costs ~6 ms here)."""
        if not items:
            return
        for item in items:
            if item.submission_id not in self._staged:
                self.stage(item.submission_id, item.registrations, item.rejects, item.record)
            work = self.tmp / item.submission_id
            if isinstance(item.validation, bytes):
                _write_bytes(work / "validation.json", item.validation, sync=False)
            else:
                _write_json(work / "validation.json", item.validation, sync=False)
        os.sync()
        checkpoint("after_tmp_write")
        for table_name in ("registrations", "rejects"):
            for item in items:
                target = self.partition(table_name, item.year, item.submission_id)
                target.mkdir(parents=True, exist_ok=True)
                os.replace(self.tmp / item.submission_id / f"{table_name}.parquet", target / "part-0.parquet")
            checkpoint(f"after_{table_name}_partition")
        for item in items:
            os.replace(
                self.tmp / item.submission_id / "validation.json",
                self.root / "validation" / f"{item.submission_id}.json",
            )
        os.sync()
        checkpoint("before_record")
        for item in items:
            os.replace(self.tmp / item.submission_id / "record.json", self.record_path(item.submission_id))
            checkpoint("after_record")
        fsync_dir(self.root / "submissions")
        for item in items:
            os.rmdir(self.tmp / item.submission_id)  # empty: everything in it was renamed into place
            self._staged.discard(item.submission_id)

    def quarantine(
        self, source: Path, sha256: str, original_name: str, report: dict, attachments: dict[str, Any] | None = None
    ) -> Path:
        """Keep the file byte for byte with report.md and report.json (and attachments as JSON)."""
        work = self.tmp / f"quarantine-{sha256}"
        work.mkdir()
        shutil.copyfile(source, work / original_name)
        with open(work / original_name, "rb") as handle:
            os.fsync(handle.fileno())
        for attachment, payload in (attachments or {}).items():
            _write_json(work / attachment, payload)
        _write_json(work / "report.json", report)
        _write_bytes(work / "report.md", _report_markdown(report).encode("utf-8"))
        fsync_dir(work)
        checkpoint("before_quarantine")
        target = self.root / "quarantine" / sha256
        os.replace(work, target)
        fsync_dir(self.root / "quarantine")
        return target


def _report_markdown(report: dict) -> str:
    lines = [
        f"# Quarantined: {report['original_name']}",
        "",
        f"* Rule: **{report['rule_id']}**",
        f"* Reason: {report['message']}",
        f"* SHA-256: `{report['sha256']}`",
        f"* Quarantined at: {report['quarantined_at']}",
        "",
        "Nothing of this file was landed. The file beside this report is kept byte for byte as delivered.",
    ]
    details = report.get("details") or {}
    samples = details.get("sample_rejects")
    if samples:
        lines += ["", "## Sample of rejected rows", ""] + [f"* {m}" for m in samples]
    failed = details.get("failed_expectations")
    if failed:
        lines += ["", "## Failed expectations", ""] + [f"* {m}" for m in failed]
    if details.get("data_docs"):  # relative to the landing root; this report lies in quarantine/<sha256>/
        lines += [
            "",
            f"great-expectations Data Docs of the result: [{details['data_docs']}](../../{details['data_docs']})",
        ]
    return "\n".join(lines) + "\n"


def now_utc() -> datetime:
    return datetime.now(UTC)
