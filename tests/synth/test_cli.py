"""The `brukerplan synth` command: usage errors exit 2, a run exits 0 and ends with a summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from brukerplan.cli import app


@pytest.mark.parametrize(
    "args",
    [
        ["--years", "2010-2012"],
        ["--years", "2020-2019"],
        ["--years", "twenty"],
        ["--scale", "0"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "extracts").exists()


def test_missing_out_is_a_usage_error() -> None:
    assert CliRunner().invoke(app, ["synth"]).exit_code == 2


@pytest.mark.slow
def test_single_year_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--years", "2015", "--scale", "0.01"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "finished in" in text and "person-years" in text
    names = [p.name for p in (tmp_path / "extracts").iterdir()]
    assert names and all(n.startswith("BP2015_") for n in names)
    assert (tmp_path / "truth" / "manifest.json").exists()
