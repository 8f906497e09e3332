"""When publishing is allowed: after a green `dbt build` of the warehouse.

Rule (docs/publishing.md): dbt's run_results.json of the last invocation on this warehouse (by default in the
`dbt_target` folder beside the warehouse file, where `brukerplan build` writes it) must exist, record a
`build` command, and have every node in status success, pass, warn or no-op (error, fail, runtime error and skipped
refuse publishing). The warehouse must also hold every mart the publish spec names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GREEN = {"success", "pass", "warn", "no-op"}  # no-op: exposures and other nodes that do not run


class BuildNotGreen(RuntimeError):
    """The last dbt invocation on the warehouse was not a green build (publishing refused)."""


@dataclass(frozen=True)
class BuildRecord:
    invocation_id: str
    generated_at: str
    nodes: int
    dbt_version: str


def default_run_results(warehouse: Path) -> Path:
    """Where `brukerplan build` (dbt_runner.run_dbt) leaves run_results.json for this warehouse."""
    return warehouse.parent / "dbt_target" / "run_results.json"


def check_green_build(run_results: Path) -> BuildRecord:
    if not run_results.exists():
        raise BuildNotGreen(f"no dbt build record at {run_results}: run `brukerplan build` first")
    try:
        data = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildNotGreen(f"cannot read the dbt build record {run_results}: {exc}") from exc
    command = (data.get("args") or {}).get("which")
    if command != "build":
        raise BuildNotGreen(
            f"the last dbt invocation recorded in {run_results} was `{command}`, not `build`: "
            "run `brukerplan build` so that every model and test has run"
        )
    results = data.get("results") or []
    bad = [r for r in results if str(r.get("status", "")).lower() not in GREEN]
    if bad:
        listed = "; ".join(f"{r.get('unique_id')}: {r.get('status')}" for r in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise BuildNotGreen(f"the last dbt build was not green: {listed}{more}")
    if not results:
        raise BuildNotGreen(f"the dbt build record {run_results} lists no nodes")
    metadata = data.get("metadata") or {}
    return BuildRecord(
        invocation_id=str(metadata.get("invocation_id", "")),
        generated_at=str(metadata.get("generated_at", "")),
        nodes=len(results),
        dbt_version=str(metadata.get("dbt_version", "")),
    )
