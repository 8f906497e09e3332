"""`make bench` at a tiny scale: every step runs in its own measured process, and the results are written as
JSON and a Markdown table (no timing assertions: the numbers are for people, not for the test)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from brukerplan.settings import PROJECT_DIR

pytestmark = pytest.mark.slow

EXPECTED_STEPS = {
    "synth",
    "ingest csv",
    "ingest (all)",
    "dbt build",
    "publish",
    "report",
    "return",
    "incremental: ingest",
    "incremental: dbt build",
    "incremental: publish",
    "incremental cycle",
}


def test_make_bench_at_a_tiny_scale_measures_every_step(tmp_path: Path) -> None:
    args = f"--scales 0.01 --years 2024 --no-pdf --reports {tmp_path / 'reports'} --work {tmp_path / 'work'}"
    env = {**os.environ, "COLUMNS": "250"}
    proc = subprocess.run(
        ["make", "--no-print-directory", "bench", f"BENCH_ARGS={args}"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = sorted((tmp_path / "reports" / "bench").glob("*.json"))
    assert len(results) == 1
    data = json.loads(results[0].read_text())
    steps = {step["step"]: step for step in data["steps"]}
    assert set(steps) >= EXPECTED_STEPS, sorted(steps)
    for name in EXPECTED_STEPS:
        step = steps[name]
        assert step["exit_code"] == 0, name
        assert step["wall_seconds"] > 0, name
        if not name.startswith("incremental") and name != "ingest (all)":
            assert step["peak_rss_mib"] > 10, name  # measured in the step's own process
    assert steps["ingest (all)"]["rows_in"] == steps["ingest (all)"]["rows_out"] > 0
    assert steps["dbt build"]["rows_out"] > 0
    assert steps["dbt build"]["detail"]["slowest_models"], "dbt's slowest models are reported"
    assert steps["return"]["rows_out"] > 0 and steps["return"]["detail"]["packages_per_second"] > 0
    assert any(name.startswith("baseline: duckdb") for name in steps)
    assert data["machine"]["cores"] == os.cpu_count()
    markdown = results[0].with_suffix(".md").read_text()
    assert "| scale | step |" in markdown
    # the generated data is removed afterwards unless --keep
    assert not any((tmp_path / "work").glob("scale-*/landing"))
