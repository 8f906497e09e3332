"""Issue 9 "Done when", on a real `brukerplan demo` run (synth → ingest → dbt build → publish → report → return, at a
small scale and seven mapping years, 2014–2020, one of each layout, into temporary folders): Chromium opens the
index and three municipality pages — one that mapped every year, one every second year, one merged in 2020 — with
no console errors and no request leaving the disk, screenshots kept in build/test-artefacts/report-demo/; and every
figure on those pages reads back equal to the published table it came from (a withheld cell is never printed as a
number)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from brukerplan.report.browser import Chromium, find_chromium
from brukerplan.settings import PROJECT_DIR
from tests.report.pages import open_offline, pick_municipalities
from tests.report.readback import Published, check_page
from tests.support import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTEFACTS = PROJECT_DIR / "build" / "test-artefacts" / "report-demo"


def test_demo_pages_open_without_errors_and_read_back(tmp_path: Path) -> None:
    assert find_chromium() is not None, "Chromium is needed: `apt-get install chromium` (make setup does it as root)"
    published = tmp_path / "published" / "brukerplan.duckdb"
    reports = tmp_path / "reports"
    demo = run_cli(
        "demo",
        "--scale",
        "0.01",
        "--years",  # a layout v1, v2 and v3 year each, the 2020 mergers, every year and every second year
        "2014-2020",
        "--landing",
        str(tmp_path / "data" / "landing"),
        "--warehouse",
        str(tmp_path / "warehouse" / "brukerplan.duckdb"),
        "--published",
        str(published),
        "--reports",
        str(reports),
        "--returns",
        str(tmp_path / "returns"),
        cwd=tmp_path,
        timeout=1200,
    )
    assert demo.returncode == 0, demo.stdout[-5000:] + demo.stderr[-3000:]
    assert "demo finished" in demo.stdout
    keys = tmp_path / "data" / "synth" / "return_keys.csv"
    assert keys.stat().st_mode & 0o777 == 0o600
    manifests = list((tmp_path / "returns").glob("*/*/manifest.json"))
    assert manifests, "the demo wrote no return package"
    assert all(json.loads(m.read_text(encoding="utf-8"))["files"][0]["encrypted"] for m in manifests)

    picks = pick_municipalities(published)
    assert len(set(picks.values())) == 3, picks
    pages = {"index": reports / "index.html"}
    pages |= {kind: reports / "pages" / f"municipality-{code}.html" for kind, code in picks.items()}
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    with Chromium(window=(1200, 900)) as browser:
        tab = browser.tab()
        for kind, page in pages.items():
            assert page.exists(), page
            open_offline(tab, page, screenshot=ARTEFACTS / f"{kind}-{page.stem}.png")
    assert len(list(ARTEFACTS.glob("*.png"))) == 4

    con = duckdb.connect(str(published), read_only=True)
    try:
        threshold = int(con.execute("select suppression_threshold from publication_metadata").fetchone()[0])
    finally:
        con.close()
    reader = Published(published)
    try:
        problems: list[str] = []
        shown = 0
        for kind, page in pages.items():
            if kind == "index":
                continue
            checked = check_page(page, reader, threshold=threshold)
            problems += checked.problems
            shown += checked.shown
    finally:
        reader.close()
    assert problems == [], "\n".join(problems[:20])
    assert shown > 100
