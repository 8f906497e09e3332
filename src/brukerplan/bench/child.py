"""Run one `brukerplan` command in this process and write its own resource use as JSON.

Usage: python -m brukerplan.bench.child OUT.json -- COMMAND [ARGS...]

Peak resident memory (ru_maxrss) is per process, so every measured step runs in a fresh process; the
children's use (e.g. a browser started by `report`) is reported beside it."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import click


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m brukerplan.bench.child OUT.json -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    out = Path(argv[0])
    command = argv[2:]
    from brukerplan.cli import app

    started = time.perf_counter()
    try:
        returned = app(command, standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except SystemExit as exc:  # typer.Exit with standalone_mode=False returns; click errors raise
        code = int(exc.code or 0) if isinstance(exc.code, int | None) else 1
    except click.UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        code = 2
    except Exception as exc:
        print(f"step failed: {exc}", file=sys.stderr)
        code = 1
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(
        json.dumps(
            {
                "command": command,
                "exit_code": code,
                "wall_seconds": wall,
                "cpu_seconds": own.ru_utime + own.ru_stime,
                "children_cpu_seconds": kids.ru_utime + kids.ru_stime,
                "peak_rss_mib": own.ru_maxrss / 1024,
                "children_peak_rss_mib": kids.ru_maxrss / 1024,
            }
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
