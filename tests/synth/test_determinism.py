"""Same seed and arguments give the same bytes; another seed gives other data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from brukerplan.synth.config import SynthConfig
from brukerplan.synth.run import generate

pytestmark = pytest.mark.slow


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    args = {"first_year": 2018, "last_year": 2020, "scale": 0.02, "bad_inputs": True}
    a = generate(SynthConfig(out=tmp_path / "a", seed=7, **args))
    b = generate(SynthConfig(out=tmp_path / "b", seed=7, **args))
    c = generate(SynthConfig(out=tmp_path / "c", seed=8, **args))
    da, db, dc = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert len(da) > 50
    assert da == db
    assert a.rows == b.rows and a.persons == b.persons
    assert (tmp_path / "a/truth/persons.csv").read_bytes() == (tmp_path / "b/truth/persons.csv").read_bytes()
    # another seed: other file set or other contents, and other truth
    assert da != dc
    assert (tmp_path / "a/truth/persons.csv").read_bytes() != (tmp_path / "c/truth/persons.csv").read_bytes()
    assert c.rows > 0
    # nothing half-written is left behind
    assert not (tmp_path / "a/.synth-partial").exists()
    assert not list((tmp_path / "a/extracts").glob("*.part"))


def test_rerun_into_same_folder_replaces_output(tmp_path: Path) -> None:
    generate(SynthConfig(out=tmp_path, first_year=2019, last_year=2019, scale=0.01, seed=1))
    first = _digests(tmp_path)
    generate(SynthConfig(out=tmp_path, first_year=2020, last_year=2020, scale=0.01, seed=1))
    second = _digests(tmp_path)
    assert not any(name.startswith("extracts/BP2019") for name in second)
    assert any(name.startswith("extracts/BP2020") for name in second)
    assert first != second
