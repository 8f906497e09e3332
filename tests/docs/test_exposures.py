"""models/exposures.yml names every warehouse table that leaves the warehouse (issue 15 item 5, "with every table
they read"): the published file's exposure depends on exactly the tables publish copies (tables.yaml), and the
reports' exposure on exactly the published tables the report code reads."""

from __future__ import annotations

import re

import yaml

from brukerplan.settings import PROJECT_DIR

REPORT = PROJECT_DIR / "src" / "brukerplan" / "report"


def _exposures() -> dict[str, set[str]]:
    raw = yaml.safe_load((PROJECT_DIR / "models" / "exposures.yml").read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for exposure in raw["exposures"]:
        refs = [re.fullmatch(r"ref\('([a-z0-9_]+)'\)", dep) for dep in exposure["depends_on"]]
        assert all(refs), exposure["depends_on"]
        found[exposure["name"]] = {m.group(1) for m in refs if m}
    return found


def _published_models() -> set[str]:
    """The warehouse models publish copies: the `source` relations of tables.yaml (schema.model)."""
    spec = yaml.safe_load((PROJECT_DIR / "src" / "brukerplan" / "publish" / "tables.yaml").read_text(encoding="utf-8"))
    sources = [t["source"] for t in spec["tables"]] + [d["source"] for d in spec["dimensions"]]
    return {source.split(".", 1)[1] for source in sources}


def _report_reads(published: set[str]) -> set[str]:
    """The published tables the report code names: report.yaml's tables and any other one in report/*.py."""
    config = yaml.safe_load((REPORT / "report.yaml").read_text(encoding="utf-8"))
    code = " ".join(p.read_text(encoding="utf-8") for p in sorted(REPORT.glob("*.py")))
    named = set(re.findall(r"\b(?:mart|dim)_[a-z_]+\b", code)) & published
    return set(config["tables"]) | named


def test_the_published_file_exposure_lists_what_publish_copies():
    published = _published_models()
    assert len(published) == 11, published  # six marts, five dimensions
    assert _exposures()["published_bi_file"] == published


def test_the_reports_exposure_lists_every_table_the_reports_read():
    published = _published_models()
    reads = _report_reads(published)
    assert {"mart_data_quality", "dim_municipality", "dim_county", "dim_service", "dim_area"} <= reads
    assert _exposures()["municipality_reports"] == reads
