"""Helpers shared by the test packages."""

from __future__ import annotations

from pathlib import Path

from brukerplan.codes import load_codebook
from brukerplan.settings import Settings

# The eight living-condition areas (levekårsområder) in code-list order (seeds/codes/areas.csv).
AREAS: tuple[str, ...] = tuple(area.code for area in load_codebook().areas)


def settings_under(root: Path, **overrides: object) -> Settings:
    """Settings whose every path lies under `root` (never the developer's own warehouse), plus overrides."""
    return Settings.load(
        environ={},
        landing=root / "landing",
        warehouse=root / "warehouse" / "brukerplan.duckdb",
        published=root / "published" / "brukerplan.duckdb",
        reports=root / "reports",
        **overrides,
    )
