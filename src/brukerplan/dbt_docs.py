"""`make docs`: the dbt docs site as ONE self-contained HTML page that opens offline from disk.

`dbt docs generate --static` inlines the manifest and the catalog into `static_index.html`. The catalog (column
types) needs a built warehouse: a throwaway one is built under OUT/work from the seeds and an EMPTY landing zone
(the landing staging models then select typed empty relations, macros/landing.sql), so it holds no person-level
row, takes no synthetic chain, and is never the developer's warehouse. Usage statistics are off, so the page loads
no tracker. Two defects of dbt's page would still make a browser try to load files that do not exist when it is
opened from disk (OFFLINE_FIXES); they are mended in the copy written to OUT/dbt/index.html.

    python -m brukerplan.dbt_docs [--out build/docs]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from brukerplan.settings import PROJECT_DIR, Settings
from brukerplan.warehouse.dbt_runner import run_dbt

DEFAULT_OUT = PROJECT_DIR / "build" / "docs"
NO_TRACKING = ("--no-send-anonymous-usage-stats",)
PLACEHOLDERS = ('"MANIFEST.JSON INLINE DATA"', '"CATALOG.JSON INLINE DATA"')

OFFLINE_FIXES: tuple[tuple[str, str, str], ...] = (
    (
        "xlink:href=\"{{ getIcon(item.type, \\'",
        "ng-attr-href=\"{{ getIcon(item.type, \\'",
        "the tree icons are an Angular template in a plain attribute: the browser loads the literal "
        "'{{ getIcon(...) }}' as a file before Angular fills it in (one error per icon from disk); ng-attr-href "
        "sets the attribute only once it is filled in",
    ),
    (
        '<link rel="shortcut icon" href="${require(\'./assets/favicons/favicon.ico\')}"/>',
        '<link rel="icon" href="data:,"/>',
        "an unbuilt webpack placeholder as the favicon (a request for a file named '${require(...)}')",
    ),
)
"""(text in dbt's page, replacement, why). A text dbt no longer has is skipped: the browser test tells whether
the page still opens without errors."""


class DocsError(RuntimeError):
    """A dbt step failed, or dbt's page is not self-contained."""


@dataclass(frozen=True)
class DocsSite:
    page: Path
    models: int
    exposures: int
    sources: int
    seconds: float


def offline_page(text: str) -> str:
    """dbt's static page with OFFLINE_FIXES applied; refuses a page whose data were not inlined."""
    missing = [p for p in PLACEHOLDERS if p in text]
    if missing:
        raise DocsError(f"dbt's static page still holds {', '.join(missing)}: the manifest or catalog is not inlined")
    for old, new, _why in OFFLINE_FIXES:
        text = text.replace(old, new)
    return text


def _settings(work: Path) -> Settings:
    """Every path under `work`; the landing zone is a folder that does not exist (an empty landing zone)."""
    return Settings.load(
        environ={},
        uses=(),
        landing=work / "landing",
        warehouse=work / "warehouse" / "brukerplan.duckdb",  # relations named as in the real warehouse
        published=work / "published" / "brukerplan.duckdb",
        reports=work / "reports",
        returns=work / "returns",
    )


def build_docs_site(out: Path, console: Console) -> DocsSite:
    """Build the throwaway warehouse, generate the static docs and write OUT/dbt/index.html."""
    started = time.perf_counter()
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    settings = _settings(work)
    paths = {"target_path": work / "target", "log_path": work / "logs"}
    steps = (
        (
            "building an empty warehouse for the catalog (seeds and models, no landing data)",
            ["build", "--resource-type", "seed", "--resource-type", "model", *NO_TRACKING],
        ),
        ("generating the static dbt docs", ["docs", "generate", "--static", *NO_TRACKING]),
    )
    for label, args in steps:
        with console.status(label):
            outcome = run_dbt(args, settings, **paths)
        if not outcome.success:
            raise DocsError(f"dbt {' '.join(args[:2])} failed: " + "; ".join(outcome.failures[:5]))
        console.print(f"{label}: {outcome.seconds:.0f} s")
    target = paths["target_path"]
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    if manifest["metadata"].get("send_anonymous_usage_stats"):
        raise DocsError("the manifest asks for usage statistics: the page would load dbt's tracker")
    page = out / "dbt" / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    partial = page.with_name(page.name + ".partial")
    partial.write_text(offline_page((target / "static_index.html").read_text(encoding="utf-8")), encoding="utf-8")
    os.replace(partial, page)
    nodes = manifest["nodes"].values()
    return DocsSite(
        page=page,
        models=sum(1 for n in nodes if n["resource_type"] == "model"),
        exposures=len(manifest["exposures"]),
        sources=len(manifest["sources"]),
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brukerplan.dbt_docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/docs)")
    args = parser.parse_args(argv)
    console = Console()
    try:
        site = build_docs_site(args.out.resolve(), console)
    except DocsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(
        f"dbt docs: {site.page} ({site.models} models, {site.sources} sources, {site.exposures} exposures; one "
        f"self-contained page, opens from disk) in {site.seconds:.0f} s",
        soft_wrap=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
