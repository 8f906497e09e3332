"""Issue 14 "Killed mid-run": SIGKILL during `brukerplan return` (the command and its worker processes), then a
rerun: every municipality's package is complete (its manifest lists every file with the right checksum) or
absent at any moment, and the rerun finishes the rest and removes what the killed run left."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brukerplan.demo import demo_keys

pytestmark = pytest.mark.slow

PARTIAL = ".partial-"


def _complete_packages(returns: Path) -> dict[str, Path]:
    """Municipality -> package folder, for every visible package; fails on a visible package that is not complete."""
    packages = {}
    for folder in returns.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9][0-9][0-9]"):
        manifest = folder / "manifest.json"
        assert manifest.is_file(), f"{folder}: a visible package without its manifest"
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        assert {f["name"] for f in listed} | {"manifest.json"} == {p.name for p in folder.iterdir()}, folder
        for item in listed:
            assert hashlib.sha256((folder / item["name"]).read_bytes()).hexdigest() == item["sha256"], folder
        packages[folder.parent.name] = folder
    return packages


def _start(env: dict[str, str], returns: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "brukerplan", "return", "--returns", str(returns)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the workers too
    )


def _kill_when(process: subprocess.Popen[bytes], returns: Path, ready, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not ready(returns):
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _anything_written(returns: Path) -> bool:
    """The first package is being written (or, if that was too quick to see, has been written)."""
    return any(returns.glob(f"*/{PARTIAL}*")) or any(returns.glob("*/[0-9][0-9][0-9][0-9]"))


def _three_packages_done(returns: Path) -> bool:
    return len(list(returns.glob("*/[0-9][0-9][0-9][0-9]/manifest.json"))) >= 3


KILL_POINTS = {"first_package": _anything_written, "after_three_packages": _three_packages_done}
# `make stress` repeats each kill point (BRUKERPLAN_KILL_REPEATS=20) on one chain
REPEATS = range(int(os.environ.get("BRUKERPLAN_KILL_REPEATS", "1")))


@pytest.mark.parametrize("attempt", REPEATS)
@pytest.mark.parametrize("kill_point", sorted(KILL_POINTS))
def test_sigkill_then_rerun_leaves_complete_packages_only(chain, tmp_path: Path, kill_point: str, attempt: int) -> None:
    returns = tmp_path / "returns"
    keys = demo_keys(tmp_path / "keys.csv")()
    env = {**os.environ, **chain.settings.as_env(), "BRUKERPLAN_RETURN_KEYS": str(keys)}
    _kill_when(_start(env, returns), returns, KILL_POINTS[kill_point])
    _complete_packages(returns)  # complete or absent right after the kill

    rerun = subprocess.run(
        [sys.executable, "-m", "brukerplan", "return", "--returns", str(returns)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    packages = _complete_packages(returns)
    written = int(rerun.stdout.split("return: ")[1].split(" packages")[0])
    assert written > 0 and len(packages) == written, rerun.stdout[-2000:]
    leftovers = [str(p) for p in returns.rglob(f"{PARTIAL}*")]
    assert leftovers == []
