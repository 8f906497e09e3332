"""The validation suite (`validation.GxValidator`) in a child process (decisions I15): great-expectations is imported
there while the pipeline reads and maps the first files, and each batch is validated while the pipeline prepares
the next one, so on two cores most of the suite's time is hidden behind the reading.

The child runs `main(<requests fd>, <replies fd>, <parent pid>)` of this module. Requests and replies are
pickled over two pipes, in order: the code book first (no reply), then ("validate", path of an Arrow IPC file),
("docs_add", …) and ("docs_build", run name), each answered by one reply (a `ValidationOutcome`, a page path, an
index path, or `Failed` with the child's traceback). A table goes through a file in the folder given to `start`
(the landing zone's `_tmp`: restricted, and cleared by the next run after a crash), not through the pipe: a pipe
would make the parent wait while the child, busy importing great-expectations, takes it 64 KiB at a time; the child
maps the file and deletes it. The child writes nothing else but the Data Docs, into the folder it is given (in the
restricted landing zone, with the private umask); it ends when its requests pipe closes, and is killed with its
parent when that dies (even by SIGKILL), so it never writes into a zone whose lock its parent no longer holds. It
never holds the lock itself (file descriptors are not inherited)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from brukerplan.codes import CodeBook
from brukerplan.ingest.validation import GxValidator, RunDataDocs, ValidationOutcome
from brukerplan.restricted import PRIVATE_UMASK

CLOSE_TIMEOUT = 60.0
CHILD = "import sys; from brukerplan.ingest.validation_worker import main; main(sys.argv[1:])"
"""The child's program (not `-m`: pickled classes must belong to this module, not to __main__)."""
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ValidationWorkerError(RuntimeError):
    """The child process failed or ended before it answered."""


@dataclass(frozen=True)
class Failed:
    """A reply: the request raised in the child (its traceback)."""

    error: str


def _write_table(table: pa.Table, path: Path) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_table(path: Path) -> pa.Table:
    """The table handed over in `path` (memory-mapped: the mapping lives as long as the table), and the file
    deleted."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    path.unlink()
    return table


@dataclass
class _Ticket:
    worker: ValidationWorker
    number: int

    def result(self) -> ValidationOutcome:
        return self.worker.reply(self.number)


@dataclass
class WorkerDataDocs:
    """The Data Docs of one run, built by the child (see validation.RunDataDocs)."""

    worker: ValidationWorker
    run_name: str
    folder: Path
    pages: list[Path] = field(default_factory=list)
    _building: int | None = None  # the number of the build request, once sent

    def add(self, label: str, outcome: ValidationOutcome, files: Sequence[str]) -> Path:
        page = self.worker.call("docs_add", self.run_name, str(self.folder), label, outcome, list(files))
        self.pages.append(page)
        return page

    def start_build(self) -> None:
        """Have the child build the site while the parent goes on (no page may be added afterwards)."""
        if self._building is None:
            self._building = self.worker.send("docs_build", self.run_name)

    def build(self) -> Path:
        self.start_build()
        assert self._building is not None
        return self.worker.reply(self._building)


@dataclass
class ValidationWorker:
    """A BackgroundValidator and DataDocsWriter whose suite runs in a child process, started by `start`."""

    book: CodeBook
    _folder: Path | None = field(default=None, init=False, repr=False)
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _requests: IO[bytes] | None = field(default=None, init=False, repr=False)
    _replies: IO[bytes] | None = field(default=None, init=False, repr=False)
    _sent: int = field(default=0, init=False, repr=False)
    _received: int = field(default=0, init=False, repr=False)
    _waiting: dict[int, Any] = field(default_factory=dict, init=False, repr=False)

    def start(self, folder: Path) -> None:
        """Start the child (it imports great-expectations and builds the suite at once), tables to be handed over in
        `folder`; no-op when running."""
        if self._process is not None:
            return
        self._folder = folder
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(requests_read), str(replies_write), str(os.getpid())],
                pass_fds=(requests_read, replies_write),
            )
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self._requests = os.fdopen(requests_write, "wb")
        self._replies = os.fdopen(replies_read, "rb")
        self._sent = self._received = 0
        self._waiting.clear()
        self._write(self.book)

    def _write(self, message: object) -> None:
        assert self._requests is not None
        try:
            pickle.dump(message, self._requests, protocol=pickle.HIGHEST_PROTOCOL)
            self._requests.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ValidationWorkerError(f"the validation process ended unexpectedly ({self._status()})") from exc

    def _status(self) -> str:
        code = self._process.poll() if self._process is not None else None
        return "still running" if code is None else f"exit status {code}"

    def send(self, kind: str, *args: object) -> int:
        """Send a request; its reply comes with `reply(number)`."""
        if self._process is None:
            raise ValidationWorkerError("the validation process is not started")
        self._write((kind, args))
        self._sent += 1
        return self._sent - 1

    def reply(self, number: int) -> Any:
        """The reply to request `number` (replies come in the order of the requests)."""
        assert self._replies is not None
        while self._received <= number:
            try:
                self._waiting[self._received] = pickle.load(self._replies)
            except (EOFError, OSError, pickle.UnpicklingError) as exc:
                raise ValidationWorkerError(f"the validation process ended unexpectedly ({self._status()})") from exc
            self._received += 1
        answer = self._waiting.pop(number)
        if isinstance(answer, Failed):
            raise ValidationWorkerError(f"validation failed in the validation process:\n{answer.error}")
        return answer

    def call(self, kind: str, *args: object) -> Any:
        return self.reply(self.send(kind, *args))

    def submit(self, table: pa.Table) -> _Ticket:
        assert self._folder is not None
        path = self._folder / f"validate-{os.getpid()}-{self._sent}.arrow"
        _write_table(table, path)
        return _Ticket(self, self.send("validate", str(path)))

    def validate(self, table: pa.Table) -> ValidationOutcome:
        return self.submit(table).result()

    def data_docs(self, run_name: str, folder: Path) -> WorkerDataDocs:
        return WorkerDataDocs(self, run_name, folder)

    def close(self) -> None:
        """End the child. With every reply read it has nothing left to do (it may still be importing
        great-expectations, if nothing was validated): it is terminated at once. Otherwise (an error on the way) it
        gets CLOSE_TIMEOUT seconds to end on its own, as it does when its requests pipe closes, then is killed."""
        if self._process is None:
            return
        process, self._process = self._process, None
        idle = self._received == self._sent
        for stream in (self._requests, self._replies):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._requests = self._replies = None
        if idle:
            process.terminate()
        try:
            process.wait(timeout=CLOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: read requests (in a thread: a request never waits in the pipe while great-expectations is
    being imported), answer them in order, stop at the end of the requests."""
    inbox: queue.Queue[Any] = queue.Queue()

    def read() -> None:
        try:
            while True:
                inbox.put(pickle.load(requests))
        except (EOFError, OSError, pickle.UnpicklingError):
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    book = inbox.get()
    if book is None:
        return
    validator = GxValidator(book)
    broken: str | None = None
    try:
        validator.prepare()
    except Exception:
        broken = traceback.format_exc()
    sites: dict[str, RunDataDocs] = {}
    while (request := inbox.get()) is not None:
        kind, args = request
        answer: Any
        try:
            if broken is not None:
                answer = Failed(broken)
            elif kind == "validate":
                answer = validator.validate(_read_table(Path(args[0])))
            elif kind == "docs_add":
                run_name, folder, label, outcome, files = args
                site = sites.setdefault(run_name, validator.data_docs(run_name, Path(folder)))
                answer = site.add(label, outcome, files)
            elif kind == "docs_build":
                answer = sites.pop(args[0]).build()
            else:
                answer = Failed(f"unknown request {kind!r}")
        except Exception:
            answer = Failed(traceback.format_exc())
        try:
            pickle.dump(answer, replies, protocol=pickle.HIGHEST_PROTOCOL)
            replies.flush()
        except OSError:
            return  # the parent is gone


def _die_with(parent: int) -> None:
    """Be killed the moment the parent ends (Linux): a parent killed while this process writes Data Docs into its
    _tmp must not leave it writing there after the lock is released and the next run has cleaned up. Elsewhere the
    closed requests pipe ends it, a little later."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(0)


def main(argv: Sequence[str]) -> None:
    _die_with(int(argv[2]))
    os.umask(PRIVATE_UMASK)  # it writes Data Docs into the restricted landing zone
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent; the child ends with its requests
    with (
        contextlib.suppress(OSError),  # a pipe whose other end is gone (the parent ended)
        os.fdopen(int(argv[0]), "rb") as requests,
        os.fdopen(int(argv[1]), "wb") as replies,
    ):
        serve(requests, replies)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown of great-expectations: the parent waits for this exit
