"""One small generation shared by the tests of this folder (per pytest worker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from brukerplan.synth.config import SynthConfig
from brukerplan.synth.run import generate

SMALL_SCALE = 0.03


@dataclass(frozen=True)
class Generated:
    out: Path
    manifest: dict

    def truth(self, name: str) -> pl.DataFrame:
        if name == "person_year":
            return pl.read_parquet(self.out / "truth" / "person_year.parquet")
        return pl.read_csv(
            self.out / "truth" / f"{name}.csv",
            schema_overrides={
                "municipality_code_registered": pl.String,
                "kept_municipality_code_registered": pl.String,
                "registration_id": pl.String,
                "kept_registration_id": pl.String,
                "submission_id": pl.String,
                "kept_submission_id": pl.String,
                "person_id": pl.String,
            },
        )


def load(out: Path) -> Generated:
    return Generated(out, json.loads((out / "truth" / "manifest.json").read_text("utf-8")))


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """Default years (2013-2024) at a small scale, with the bad inputs."""
    out = tmp_path_factory.mktemp("synth_small")
    generate(SynthConfig(out=out, scale=SMALL_SCALE, bad_inputs=False))
    return load(out)
