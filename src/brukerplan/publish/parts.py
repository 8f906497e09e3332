"""Suppression part by part: each value of the spec's `solve_apart_by` (the mapping year) solved on its own, in
parallel, and reused unchanged from the previous publication when nothing of it changed.

No equation joins two mapping years (values that one does join are put in one part), so the system of equations
falls apart into independent parts, and every choice of the solver (suppress.py) is local to the part of the
cells it looks at: the complementary picks compare cells of one equation or of its neighbours; the exact audit's
elimination and random null vector, the bound propagation and the linear programs work component by component,
and the number of passes a part needs depends on that part only. So solving the parts one at a time gives what
solving the whole system at once gives, and a part's result is a function of the part alone, in its own
numbering (cells and equations renumbered in their order): its values, heights, equations, the threshold, the LP
budget and the solver's code. A SHA-256 of exactly these is the part's *fingerprint*; the results of the last
publication are kept under their fingerprints in the restricted store beside the warehouse (never in the
published folder: the fingerprint is a hash of unsuppressed counts), and a part whose fingerprint is found there
is not solved again. Tests: tests/publish/test_parts.py (parts = whole; reuse = fresh solve).
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import signal
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brukerplan.publish.exact import ExactStats, components, dense_numbers
from brukerplan.publish.intervals import IntervalStats
from brukerplan.publish.suppress import SuppressionStats, System, is_small, suppress_system
from brukerplan.restricted import private_dir

SOLVER_MODULES = ("suppress.py", "exact.py", "intervals.py", "parts.py")
CACHE_SUFFIX = ".npz"
PR_SET_PDEATHSIG = 1  # prctl(2)
SUMMED = (
    "primary",
    "complementary",
    "audit_added",
    "rounds",
    "interval_added_for",
    "propagation_added_for",
    "audited_unknowns",
)


@dataclass(frozen=True)
class Part:
    """Cells of one part (global numbers, ascending) and the part's system in its own numbering."""

    cells: np.ndarray
    system: System
    fingerprint: str


@dataclass
class PartResult:
    withheld: np.ndarray  # bool per cell of the part
    null_vector: np.ndarray  # int64 per cell of the part
    stats: SuppressionStats  # without its null vector


@dataclass
class PartsSummary:
    parts: int = 0
    reused: int = 0
    solved: int = 0
    workers: int = 0
    not_stored: int = 0  # solved parts the store could not keep
    fingerprints: set[str] = dataclasses.field(default_factory=set)


def solver_version() -> str:
    """A hash of the solver's source: a stored result is reused only by the code that computed it."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in SOLVER_MODULES:
        digest.update((here / name).read_bytes())
    import scipy

    digest.update(f"numpy {np.__version__} scipy {scipy.__version__}".encode())
    return digest.hexdigest()


def _fingerprint(system: System, threshold: int, lp_budget: int, version: str) -> str:
    digest = hashlib.sha256(f"{version}|threshold={threshold}|lp_budget={lp_budget}".encode())
    for array, dtype in (
        (system.value, np.int64),
        (system.height, np.int64),
        (system.eq, np.int64),
        (system.cell, np.int64),
        (system.coef, np.int8),
    ):
        data = np.ascontiguousarray(array, dtype=dtype)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data.tobytes())
    return digest.hexdigest()


def part_labels(system: System) -> np.ndarray:
    """Per cell: its part (0, 1, ...): its group (system.group), groups joined by an equation merged; -1 for a
    cell in no equation (nothing to solve: it is withheld if it is small, and no choice of the solver depends on
    it, so a municipality that appears only in a later year changes no earlier part)."""
    group = system.group if system.group is not None else np.zeros(system.n_cells, dtype=np.int64)
    local, _ = dense_numbers(group + 1)  # -1 (no group) is a group too
    n_groups = int(local.max()) + 1 if len(local) else 0
    root = components(system.eq, local[system.cell], n_groups) if len(system.eq) else np.arange(n_groups)
    labels = np.full(system.n_cells, -1, dtype=np.int64)
    if len(system.cell):
        in_equation = np.zeros(system.n_cells, dtype=bool)
        in_equation[system.cell] = True
        labels[in_equation], _ = dense_numbers(root[local[in_equation]])
    return labels


def split(system: System, threshold: int, lp_budget: int, version: str | None = None) -> list[Part]:
    """The independent parts of the system (its cells in equations), each renumbered in order, with its
    fingerprint."""
    version = version or solver_version()
    labels = part_labels(system)
    n_parts = int(labels.max()) + 1 if len(labels) else 0
    small = labels.astype(np.int16) if n_parts < 2**15 else labels  # a radix sort for small labels
    by_part = np.argsort(small, kind="stable")
    cell_bounds = np.searchsorted(labels[by_part], np.arange(n_parts + 1))  # the cells in no part come first
    local = np.full(system.n_cells, -1, dtype=np.int64)
    for number in range(n_parts):
        local[by_part[cell_bounds[number] : cell_bounds[number + 1]]] = np.arange(np.diff(cell_bounds)[number])
    member_part = small[system.cell]
    members = np.argsort(member_part, kind="stable")  # equation order kept within a part
    member_bounds = np.searchsorted(member_part[members], np.arange(n_parts + 1))
    parts = []
    for number in range(n_parts):
        cells = by_part[cell_bounds[number] : cell_bounds[number + 1]]
        rows = members[member_bounds[number] : member_bounds[number + 1]]
        eq = system.eq[rows]
        eq = np.cumsum(np.concatenate([[False], eq[1:] != eq[:-1]]), dtype=np.int64) if len(eq) else eq
        sub = System(
            value=system.value[cells],
            height=system.height[cells],
            eq=eq,
            cell=local[system.cell[rows]],
            coef=system.coef[rows],
        )
        parts.append(Part(cells=cells, system=sub, fingerprint=_fingerprint(sub, threshold, lp_budget, version)))
    return parts


def solve_part(system: System, threshold: int, lp_budget: int) -> PartResult:
    """One part, as suppress.py solves any system (run in a worker process)."""
    withheld, _, stats = suppress_system(system, threshold, lp_budget=lp_budget)
    null_vector, stats.null_vector = stats.null_vector, np.zeros(0, dtype=np.int64)
    return PartResult(withheld=withheld, null_vector=null_vector, stats=stats)


def stats_to_json(stats: SuppressionStats) -> str:
    """A part's statistics as JSON, without the null vector (stored beside it as an array)."""
    data = dataclasses.asdict(dataclasses.replace(stats, null_vector=np.zeros(0, dtype=np.int64)))
    data.pop("null_vector")
    return json.dumps(data)


def stats_from_json(text: str) -> SuppressionStats:
    """The statistics `stats_to_json` wrote; the null vector is the caller's to set."""
    data = json.loads(text)
    data["exact"] = ExactStats(**data["exact"])
    data["intervals"] = IntervalStats(**data["intervals"])
    return SuppressionStats(**data)


@dataclass(frozen=True)
class PartCache:
    """Results of solved parts under their fingerprints: one file each, written whole (temp file + rename)."""

    directory: Path

    def path(self, fingerprint: str) -> Path:
        return self.directory / f"{fingerprint}{CACHE_SUFFIX}"

    def get(self, part: Part) -> PartResult | None:
        """The stored result, or None when absent or unreadable or not of the part's size (then solved again)."""
        try:
            with np.load(self.path(part.fingerprint), allow_pickle=False) as data:
                n = int(data["n"])
                withheld = np.unpackbits(data["withheld"], count=n).astype(bool)
                null_vector = data["null_vector"].astype(np.int64)
                result = PartResult(withheld, null_vector, stats_from_json(str(data["stats"])))
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
            return None
        if n != part.system.n_cells or len(result.null_vector) != n:
            return None
        return result

    def put(self, part: Part, result: PartResult) -> bool:
        """Store the result; False when the store cannot be written (the publication goes on without it)."""
        try:
            self._write(part, result)
        except OSError:
            return False
        return True

    def _write(self, part: Part, result: PartResult) -> None:
        write_npz(
            self.path(part.fingerprint),
            n=np.int64(len(result.withheld)),
            withheld=np.packbits(result.withheld),
            null_vector=result.null_vector,
            stats=np.str_(stats_to_json(result.stats)),
        )

    def keep_only(self, fingerprints: set[str]) -> bool:
        """Forget every stored result but these (the parts of the publication just written); False when the
        store cannot be cleaned (the publication is written already: a warning, not a failure)."""
        try:
            paths = list(self.directory.iterdir()) if self.directory.is_dir() else []
            for path in paths:
                unused = path.name.endswith(CACHE_SUFFIX) and path.name[: -len(CACHE_SUFFIX)] not in fingerprints
                if unused or (path.name.endswith(".tmp") and not _writer_alive(path)):
                    path.unlink(missing_ok=True)
        except OSError:
            return False
        return True


def write_npz(target: Path, **arrays: np.ndarray | np.generic) -> None:
    """Write arrays as one .npz file, whole or not at all (temp file, fsync, rename), private (0600) in a private
    folder (0700); OSError when it cannot be written."""
    private_dir(target.parent)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _writer_alive(tmp: Path) -> bool:
    """Whether the process that is writing a temp file (`.<name>.<pid>.tmp`) still runs (another publish)."""
    try:
        pid = int(tmp.name.rsplit(".", 2)[-2])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def merge_stats(results: list[SuppressionStats]) -> SuppressionStats:
    """The statistics of the parts as one: counts added up; passes and largest components the parts' maximum."""
    out = SuppressionStats()
    for stats in results:
        for name in SUMMED:
            setattr(out, name, getattr(out, name) + getattr(stats, name))
        out.audit_passes = max(out.audit_passes, stats.audit_passes)
        out.largest_component = max(out.largest_component, stats.largest_component)
        out.audit_complete = out.audit_complete and stats.audit_complete
        for field in dataclasses.fields(ExactStats):
            mine, theirs = getattr(out.exact, field.name), getattr(stats.exact, field.name)
            merged = max(mine, theirs) if field.name == "largest_component" else mine + theirs
            setattr(out.exact, field.name, merged)
        for field in dataclasses.fields(IntervalStats):
            total = getattr(out.intervals, field.name) + getattr(stats.intervals, field.name)
            setattr(out.intervals, field.name, total)
        for phase, seconds in stats.phase_seconds.items():
            out.phase_seconds[phase] = out.phase_seconds.get(phase, 0.0) + seconds
    return out


def _die_with_parent(parent: int) -> None:
    """In a worker: be killed when the publish that started it dies (Linux's PR_SET_PDEATHSIG), so that a
    killed publish leaves no solver running; exit at once if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:
        os._exit(1)


def _solve_all(
    todo: list[Part],
    threshold: int,
    lp_budget: int,
    workers: int,
    done: Callable[[Part, PartResult], None],
) -> None:
    """Solve the parts, the largest first, in `workers` processes (in this one when 1); `done` as each ends."""
    todo = sorted(todo, key=lambda p: len(p.system.eq), reverse=True)
    if workers <= 1:
        for part in todo:
            done(part, solve_part(part.system, threshold, lp_budget))
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB's threads
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        running: dict[Future[PartResult], Part] = {
            pool.submit(solve_part, part.system, threshold, lp_budget): part for part in todo
        }
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(running.pop(future), future.result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def solve_parts(
    system: System,
    threshold: int,
    lp_budget: int,
    cache: PartCache | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    reuse: bool = True,
) -> tuple[np.ndarray, np.ndarray, SuppressionStats, PartsSummary]:
    """Withheld cells (bool per cell), the primary ones, the statistics and what was reused: every part taken
    from the cache when its fingerprint is there (unless not `reuse`), solved otherwise (and stored)."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    parts = split(system, threshold, lp_budget)
    summary = PartsSummary(parts=len(parts), fingerprints={part.fingerprint for part in parts})
    primary = is_small(system.value, threshold)
    withheld = primary.copy()  # a cell in no part: withheld if small (the parts' cells are set below)
    null_vector = np.zeros(system.n_cells, dtype=np.int64)
    part_stats: list[SuppressionStats] = []

    def take(part: Part, result: PartResult) -> None:
        withheld[part.cells] = result.withheld
        null_vector[part.cells] = result.null_vector
        part_stats.append(result.stats)

    todo = []
    for part in parts:
        stored = cache.get(part) if cache is not None and reuse else None
        if stored is None:
            todo.append(part)
        else:
            stored.stats.phase_seconds = {}  # the seconds are this run's: a reused part took none
            take(part, stored)
            summary.reused += 1
    summary.workers = min(len(todo), workers or available_cores())
    say(f"solving {len(todo)} of {len(parts)} parts ({summary.reused} unchanged since the last publication)")

    def solved(part: Part, result: PartResult) -> None:
        take(part, result)
        summary.solved += 1
        if cache is not None and not cache.put(part, result):
            summary.not_stored += 1
        say(f"solved {summary.solved} of {len(todo)} parts ({summary.reused} unchanged since the last publication)")

    _solve_all(todo, threshold, lp_budget, summary.workers, solved)
    stats = merge_stats(part_stats)
    stats.cells, stats.equations = int((system.value >= 0).sum()), system.n_eqs
    stats.primary = int(primary.sum())
    stats.complementary = int(withheld.sum()) - stats.primary
    stats.null_vector = null_vector
    stats.seconds = time.perf_counter() - started
    return withheld, primary, stats, summary
