"""Ingest a list of files into the landing zone: order (§6), same-bytes check, file rules Q01-Q09, row rules,
validation, landing or quarantine. One call = one run under the zone's lock.

Files are read one at a time, in landing order, but mapped in batches (many files as one frame, decisions I14) and
validated in batches (I7); with a validator in the background (the command's default, I15) one batch is validated
while the next files are read. Batches change no outcome: before a file is compared with an earlier file of the run
(same bytes, same delivery key), whatever is still open about the earlier files is settled first, so every file gets
the outcome it gets when the files are taken one at a time."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from brukerplan import __version__
from brukerplan.codes import CodeBook, load_codebook
from brukerplan.ingest.batch import FileCells, stack
from brukerplan.ingest.errors import Quarantine
from brukerplan.ingest.filenames import BadFileName, ExtractName, parse_name
from brukerplan.ingest.landing import Known, LandingZone, Submission, now_utc
from brukerplan.ingest.mapping import map_batch
from brukerplan.ingest.read_ahead import FileRead, ReadAhead
from brukerplan.ingest.readers import DELIMITER_NAMES
from brukerplan.ingest.rules import Outcome, apply_rules
from brukerplan.ingest.validation import (
    BackgroundDataDocs,
    BackgroundValidator,
    DataDocs,
    DataDocsWriter,
    PendingValidation,
    ValidationOutcome,
    Validator,
)
from brukerplan.ingest.validation_worker import ValidationWorker
from brukerplan.settings import Settings

EXTENSIONS = (".xlsx", ".csv")
SAMPLE_REJECTS = 20
BATCH_ROWS = 200_000
"""Files waiting for validation are validated together once they hold this many landed rows (or at the end)."""
MAP_ROWS = 100_000
MAP_FILES = 100
"""Files read but not yet mapped are mapped together once they hold MAP_ROWS rows or are MAP_FILES files (or at
the end): large enough that a batch costs little more than its rows, small enough that mapping (and writing the
data files) keeps pace with the reading instead of all coming at the end."""
THREADS = 2
"""Background threads of a run: reading ahead (read_ahead), and writing a batch's data files while it is validated."""
DATA_DOCS = "data_docs"
"""The landing zone's folder of great-expectations Data Docs: one site per ingest run, DATA_DOCS/<run>/index.html."""


class UsageError(ValueError):
    """A path given on the command line does not exist or holds no extract files."""


@dataclass
class FileResult:
    path: Path
    status: str  # landed | already landed | already quarantined | quarantined (validating while in a batch)
    layout: str | None = None
    fmt: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rule_id: str | None = None
    message: str | None = None
    submission_id: str | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_docs: Path | None = None  # index.html of this run's Data Docs (none when no file reached validation)
    data_docs_pages: int = 0

    @property
    def quarantined(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "quarantined"]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


def collect(paths: Iterable[Path]) -> list[Path]:
    """Files given directly, and *.xlsx / *.csv (any case) under folders, recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in EXTENSIONS]
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def landing_order(files: Iterable[Path]) -> list[tuple[Path, ExtractName | None]]:
    """Mapping year, delivery date, seq, file name; names that do not parse (Q05) last, by name."""
    parsed: list[tuple[Path, ExtractName | None]] = []
    for path in files:
        try:
            parsed.append((path, parse_name(path.name)))
        except BadFileName:
            parsed.append((path, None))
    return sorted(parsed, key=lambda item: (0, item[1].order_key, str(item[0])) if item[1] else (1, (), item[0].name))


@dataclass
class _Waiting:
    """A file that passed every rule it can be checked against on its own, waiting for its batch to be mapped."""

    path: Path
    sha: str
    name: ExtractName
    cells: FileCells
    clash: dict | None  # the record of an earlier delivery with the same key (Q09, unless Q04 comes first)
    result: FileResult


@dataclass
class _Pending:
    """A file that passed every rule up to validation, waiting for its batch to be validated."""

    path: Path
    sha: str
    name: ExtractName
    outcome: Outcome
    record: dict
    result: FileResult
    staged: Future[None]  # its data files and record written to _tmp (in the background)
    duplicates: list[FileResult] = field(default_factory=list)


@dataclass
class _Done:
    """The outcome of a validator that validates at once."""

    outcome: ValidationOutcome

    def result(self) -> ValidationOutcome:
        return self.outcome


@dataclass
class _Validating:
    """A batch handed to the validator, to be landed (or quarantined) when its outcome comes."""

    items: list[_Pending]
    together: PendingValidation
    started: float
    shas: set[str] = field(init=False)
    keys: set[tuple] = field(init=False)

    def __post_init__(self) -> None:
        self.shas = {item.sha for item in self.items}
        self.keys = {item.name.delivery_key for item in self.items}

    def has(self, sha: str | None, key: tuple | None) -> bool:
        return sha in self.shas or key in self.keys


@dataclass
class Ingestor:
    settings: Settings
    validator: Validator | None = None
    book: CodeBook = field(default_factory=load_codebook)
    batch_rows: int = BATCH_ROWS
    map_rows: int = MAP_ROWS
    map_files: int = MAP_FILES

    def __post_init__(self) -> None:
        if self.validator is None:
            self.validator = ValidationWorker(self.book)

    def run(
        self,
        paths: Iterable[Path],
        lock_timeout: float = 600.0,
        on_wait: Callable[[str], None] | None = None,
        on_file: Callable[[Path, FileResult | None], None] | None = None,
    ) -> RunResult:
        started = time.perf_counter()
        ordered = landing_order(collect(paths))
        result = RunResult()
        assert self.validator is not None
        with LandingZone(self.settings.landing, lock_timeout, on_wait) as zone, ThreadPoolExecutor(THREADS) as pool:
            result.cleaned = zone.cleaned
            docs = self._data_docs(zone)
            run = _Run(self, zone, zone.known(), self.validator, docs, pool)
            reads = ReadAhead(pool, ordered, self.book)
            try:
                for path, name in ordered:
                    if on_file:
                        on_file(path, None)
                    file_result = run.prepare(path, name, reads.next())
                    result.files.append(file_result)
                    if on_file:
                        on_file(path, file_result)
                run.finish()
                if docs is not None and docs.pages:
                    docs.build()  # into _tmp (a crash leaves nothing half-written), then renamed into place
                    # (a background build was started with the last batch's landing: this waits for it)
                    final = zone.root / DATA_DOCS / docs.run_name
                    final.parent.mkdir(exist_ok=True)
                    os.replace(docs.folder, final)
                    result.data_docs, result.data_docs_pages = final / "index.html", len(docs.pages)
            finally:
                if isinstance(self.validator, BackgroundValidator):
                    self.validator.close()
        result.seconds = time.perf_counter() - started
        return result

    def _data_docs(self, zone: LandingZone) -> DataDocs | None:
        """This run's Data Docs (when the validator writes them), named after the run's start (UTC)."""
        if not isinstance(self.validator, DataDocsWriter):
            return None
        stamp = now_utc().strftime("%Y%m%dT%H%M%SZ")
        run_name = next(
            name
            for name in (stamp if n == 1 else f"{stamp}-{n}" for n in range(1, 1000))
            if not (zone.root / DATA_DOCS / name).exists()
        )
        return self.validator.data_docs(run_name, zone.tmp / f"{DATA_DOCS}-{run_name}")


@dataclass
class _Run:
    """One run's files on their way: waiting to be mapped, then waiting for validation (`pending`), then being
    validated, then landed; or quarantined at the first rule they break."""

    ingestor: Ingestor
    zone: LandingZone
    known: Known
    validator: Validator
    docs: DataDocs | None
    pool: Executor
    waiting: list[_Waiting] = field(default_factory=list)
    waiting_shas: set[str] = field(default_factory=set)
    waiting_keys: set[tuple] = field(default_factory=set)
    waiting_rows: int = 0
    pending: list[_Pending] = field(default_factory=list)
    by_sha: dict[str, _Pending] = field(default_factory=dict)
    validating: _Validating | None = None

    @property
    def settings(self) -> Settings:
        return self.ingestor.settings

    @property
    def book(self) -> CodeBook:
        return self.ingestor.book

    def _open(self, sha: str | None = None, key: tuple | None = None) -> bool:
        """Is a file with this content or delivery key still waiting to be mapped or being validated?"""
        if self.validating is not None and self.validating.has(sha, key):
            return True
        return sha in self.waiting_shas or key in self.waiting_keys

    def settle(self) -> None:
        """Map what waits and finish the validation under way: every earlier file then has its outcome."""
        self.resolve()
        self.complete()

    def finish(self) -> None:
        self.resolve()
        self.flush()
        self.complete(last=True)

    def prepare(self, path: Path, name: ExtractName | None, read: FileRead) -> FileResult:
        started = time.perf_counter()
        sha = read.sha
        if self._open(sha=sha):
            self.settle()
        if sha in self.by_sha:
            first_pending = self.by_sha[sha]
            duplicate = FileResult(
                path,
                "already landed",
                first_pending.result.layout,
                first_pending.result.fmt,
                submission_id=sha[:16],
                message=f"same bytes as {first_pending.path.name} (submission {sha[:16]})",
            )
            first_pending.duplicates.append(duplicate)
            return duplicate
        if sha in self.known.landed:
            first = self.known.landed[sha]
            return FileResult(
                path,
                "already landed",
                first.get("layout"),
                first.get("format"),
                submission_id=first["submission_id"],
                message=f"same bytes as {first['original_name']} (submission {first['submission_id']})",
            )
        if sha in self.known.quarantined:
            first = self.known.quarantined[sha]
            return FileResult(
                path,
                "already quarantined",
                rule_id=first.get("rule_id"),
                message=f"same bytes as {first['original_name']}, quarantined under {first['rule_id']}",
            )
        if isinstance(self.validator, BackgroundValidator):
            self.validator.start(self.zone.tmp)  # great-expectations loads in the background while files are read
        result = FileResult(path, "validating", submission_id=sha[:16])
        try:
            waiting = self._check(path, name, read, result)
        except Quarantine as q:
            self._quarantine(path, sha, q, result)
        else:
            self.waiting.append(waiting)
            self.waiting_shas.add(waiting.sha)
            self.waiting_keys.add(waiting.name.delivery_key)
            self.waiting_rows += waiting.cells.sheet.cells.height
            if self.waiting_rows >= self.ingestor.map_rows or len(self.waiting) >= self.ingestor.map_files:
                self.resolve()
        result.seconds += time.perf_counter() - started
        return result

    def _quarantine(self, path: Path, sha: str, q: Quarantine, result: FileResult) -> None:
        report = {
            "sha256": sha,
            "original_name": path.name,
            "rule_id": q.rule_id,
            "message": q.message,
            "details": q.details,
            "quarantined_at": now_utc().isoformat(),
        }
        attachments = {"validation.json": q.details.pop("validation")} if "validation" in q.details else None
        self.zone.quarantine(path, sha, path.name, report, attachments)
        self.known.quarantined[sha] = report
        result.status, result.rule_id, result.message = "quarantined", q.rule_id, q.message
        result.submission_id, result.rows_landed = None, 0

    def _check(self, path: Path, name: ExtractName | None, read: FileRead, result: FileResult) -> _Waiting:
        """Every file rule that needs only the file itself and the zone: Q05, Q01, Q02, Q06, Q03 (Q04, Q09 and Q07
        come when its batch is mapped, Q08 with the validation of its batch). The file was read ahead (`read`): what
        reading it raised is raised here."""
        if name is None:
            try:
                parse_name(path.name)
            except BadFileName as exc:
                raise Quarantine("Q05", str(exc)) from exc
        assert name is not None
        result.fmt = name.fmt
        if read.sheet is None:
            read.raise_error()
        sheet = read.sheet
        assert sheet is not None
        result.layout = sheet.layout
        layout = self.book.layouts[sheet.layout]
        place = path.name + (f", sheet {sheet.sheet}" if sheet.sheet else "")
        if not layout.covers_year(name.year):
            expected = self.book.layout_for_year(name.year).name
            raise Quarantine(
                "Q06",
                f"{place}: the header row (row {sheet.header_row}) is layout {layout.name}, but mapping year "
                f"{name.year} (from the file name) uses layout {expected}",
                {"layout": layout.name, "expected_layout": expected},
            )
        read.raise_error()  # Q03, from resolving the columns
        source_of = read.source_of
        assert source_of is not None
        sha = read.sha
        if self._open(key=name.delivery_key):
            self.settle()
        clash = self.known.deliveries.get(name.delivery_key)
        cells = FileCells(sheet, name, source_of, sha[:16], now_utc(), read.typed_dates)
        return _Waiting(path, sha, name, cells, clash, result)

    def resolve(self) -> None:
        """Map the waiting files (one batch per layout), then give each its outcome, in landing order."""
        if not self.waiting:
            return
        waiting, self.waiting = self.waiting, []
        self.waiting_shas, self.waiting_keys, self.waiting_rows = set(), set(), 0
        started = time.perf_counter()
        outcomes: dict[int, Outcome] = {}
        by_layout: dict[str, list[int]] = {}
        for i, item in enumerate(waiting):
            by_layout.setdefault(item.cells.sheet.layout, []).append(i)
        for layout, members in by_layout.items():
            batch = stack([waiting[i].cells for i in members])
            mapped = map_batch(batch, self.book.layouts[layout], self.book)
            outcomes.update(zip(members, apply_rules(mapped), strict=True))
        share = (time.perf_counter() - started) / len(waiting)
        for i, item in enumerate(waiting):
            item.result.seconds += share
            try:
                ready = self._decide(item, outcomes[i])
            except Quarantine as q:
                self._quarantine(item.path, item.sha, q, item.result)
                continue
            self.pending.append(ready)
            self.by_sha[item.sha] = ready
            self.known.deliveries[item.name.delivery_key] = ready.record
            if sum(p.outcome.rows_landed for p in self.pending) >= self.ingestor.batch_rows:
                self.flush()

    def _decide(self, item: _Waiting, outcome: Outcome) -> _Pending:
        """Q04, Q09 and Q07 for one mapped file; its submission record when it passes."""
        sheet, name, result = item.cells.sheet, item.name, item.result
        place = item.cells.place
        if outcome.rows_read == 0:
            raise Quarantine("Q04", f"{place}: no data rows below the header row (row {sheet.header_row})")
        result.rows_read = outcome.rows_read
        clash = item.clash
        if clash is not None:
            raise Quarantine(
                "Q09",
                f"{item.path.name}: same mapping year, scope, delivery date and seq as {clash['original_name']} "
                f"(submission {clash['submission_id']}) but different bytes; the order of the two deliveries "
                "is ambiguous",
                {"landed_submission_id": clash["submission_id"], "landed_name": clash["original_name"]},
            )
        result.rows_landed, result.rows_rejected = outcome.rows_landed, outcome.rows_rejected
        share = outcome.rows_rejected / outcome.rows_read
        threshold = self.settings.reject_threshold
        if share > threshold:
            by_rule: dict[str, int] = {}
            for rule in outcome.rejects.column("rule_id").to_pylist():
                by_rule[rule] = by_rule.get(rule, 0) + 1
            raise Quarantine(
                "Q07",
                f"{place}: {outcome.rows_rejected} of {outcome.rows_read} data rows rejected ({share:.1%}), "
                f"strictly above the reject threshold of {threshold:.1%}",
                {
                    "rows_read": outcome.rows_read,
                    "rows_rejected": outcome.rows_rejected,
                    "rejected_by_rule": by_rule,
                    "sample_rejects": outcome.rejects.column("message").to_pylist()[:SAMPLE_REJECTS],
                },
            )
        record = {
            "submission_id": item.sha[:16],
            "original_name": item.path.name,
            "sha256": item.sha,
            "size_bytes": item.path.stat().st_size,
            "layout": sheet.layout,
            "format": name.fmt,
            "encoding": sheet.encoding,
            "delimiter": DELIMITER_NAMES.get(sheet.delimiter or "", sheet.delimiter),
            "sheet": sheet.sheet,
            "mapping_year": name.year,
            "scope": name.scope,
            "scope_type": name.scope_type,
            "delivered_on": name.delivered_on.isoformat(),
            "delivery_seq": name.seq,
            "municipalities_covered": outcome.municipalities_covered,
            "rows_read": outcome.rows_read,
            "rows_landed": outcome.rows_landed,
            "rows_rejected": outcome.rows_rejected,
            "ingested_at": item.cells.ingested_at.isoformat(),
            "software_version": __version__,
        }
        staged = self.pool.submit(
            self.zone.stage, record["submission_id"], outcome.registrations, outcome.rejects, record
        )
        return _Pending(item.path, item.sha, name, outcome, record, result, staged)

    def flush(self) -> None:
        """Hand the waiting files to the validator as one batch (after the batch before it has landed)."""
        if not self.pending:
            return
        self.complete()
        items, self.pending = self.pending, []
        started = time.perf_counter()
        table = pa.concat_tables([p.outcome.registrations for p in items])
        if isinstance(self.validator, BackgroundValidator):
            together: PendingValidation = self.validator.submit(table)
        else:
            together = _Done(self.validator.validate(table))
        self.validating = _Validating(items, together, started)

    def complete(self, last: bool = False) -> None:
        """The outcome of the batch being validated (each file alone when the batch fails), then land it in order."""
        if self.validating is None:
            return
        current, self.validating = self.validating, None
        pending, docs, zone, known = current.items, self.docs, self.zone, self.known
        for item in pending:
            item.staged.result()  # data files and record are in _tmp (they land, or are discarded, with the outcome)
        batch = [p.record["submission_id"] for p in pending]
        together = current.together.result()
        alone = not together.success and len(pending) > 1
        outcomes = (
            [self.validator.validate(p.outcome.registrations) for p in pending] if alone else [together] * len(pending)
        )
        pages: list[Path | None] = [None] * len(pending)
        if docs is not None:
            names = [p.path.name for p in pending]
            label = names[0] if len(pending) == 1 else f"{names[0]}-and-{len(pending) - 1}-more"
            pages = [docs.add(label, together, names)] * len(pending)
            if alone:
                pages = [docs.add(n, o, [n]) for n, o in zip(names, outcomes, strict=True)]
        landing: list[tuple[_Pending, Submission]] = []
        shared = dict(together.result, validated_with=batch)
        shared_text = (json.dumps(shared, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        for item, validation, page in zip(pending, outcomes, pages, strict=True):
            if not validation.success:
                zone.discard(item.record["submission_id"])
                known.deliveries.pop(item.name.delivery_key, None)
                details = {"failed_expectations": validation.failed, "validation": validation.result}
                if docs is not None and page is not None:  # the page is written at the end of the run
                    details["data_docs"] = (Path(DATA_DOCS) / docs.run_name / page).as_posix()
                q = Quarantine(
                    "Q08",
                    f"{item.path.name}: the landed data fail the validation suite ({len(validation.failed)} "
                    f"expectation(s): {'; '.join(validation.failed[:5])})",
                    details,
                )
                self._quarantine(item.path, item.sha, q, item.result)
                for duplicate in item.duplicates:
                    duplicate.status, duplicate.rule_id = "already quarantined", "Q08"
                continue
            sid = item.record["submission_id"]
            payload = shared_text if validation is together else dict(validation.result, validated_with=[sid])
            landing.append(
                (
                    item,
                    Submission(
                        sid, item.name.year, item.outcome.registrations, item.outcome.rejects, payload, item.record
                    ),
                )
            )
        if last and isinstance(docs, BackgroundDataDocs) and docs.pages:
            docs.start_build()  # every page is added: the site is built while this batch lands
        zone.land([submission for _, submission in landing])
        share = (time.perf_counter() - current.started) / len(pending)
        for item, _ in landing:
            known.landed[item.sha] = item.record
            item.result.status = "landed"
        for item in pending:
            item.result.seconds += share
