"""Who holds a warehouse file (from DuckDB's lock error), and the lock that lets one `brukerplan build` of a
warehouse run at a time (a second one waits and says for whom)."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(message: str) -> str:
    """`<program> (PID n: <command line>)` from DuckDB's lock error, the command line read from /proc when
    visible; "another process" when the message names none."""
    found = HOLDER.search(message)
    if not found:
        return "another process"
    pid = found.group("pid")
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    except OSError:
        command = ""
    return f"{found.group('exe')} (PID {pid}{': ' + command if command else ''})"


@contextmanager
def build_lock(path: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600) for the duration; waits for another holder."""
    with open(path, "a+", encoding="utf-8") as handle:
        os.chmod(path, 0o600)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            if on_wait:
                on_wait(f"waiting for another `brukerplan build` of this warehouse (PID {holder}) to finish")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
