"""`make docs` writes the dbt docs as one page that Chromium opens from disk with no console error and no request
that leaves the disk, with the exposures and the column types of the catalog (issue 15 item 5, "Done when").
`make docs` runs into a temporary DOCS_DIR (its throwaway warehouse too), never build/docs or warehouse/."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from brukerplan.dbt_docs import OFFLINE_FIXES, PLACEHOLDERS
from brukerplan.report.browser import Chromium, Tab, find_chromium
from brukerplan.settings import PROJECT_DIR
from tests.report.pages import open_offline

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 60.0  # seconds for Angular to render a view (the page holds ~5 MB of inlined JSON)


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    # -o: the virtual environment counts as up to date (a test must never reinstall it)
    made = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.setup-done", "docs", f"DOCS_DIR={out}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"dbt docs: {out / 'dbt' / 'index.html'}" in " ".join(made.stdout.split())
    return out


def _wait_for(tab: Tab, condition: Callable[[Tab], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition(tab):
        assert time.monotonic() < deadline, f"the docs page did not show {what} within {WAIT:.0f} s"
        time.sleep(0.2)


def _text(tab: Tab) -> str:
    return str(tab.evaluate("document.body ? document.body.innerText : ''") or "")


def test_make_docs_opens_from_disk_with_the_exposures(docs_dir: Path) -> None:
    assert find_chromium() is not None, "Chromium is needed: `apt-get install chromium` (make setup does it as root)"
    page = docs_dir / "dbt" / "index.html"
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]  # one self-contained file
    text = page.read_text(encoding="utf-8")
    assert not any(p in text for p in PLACEHOLDERS)
    assert not any(old in text for old, _new, _why in OFFLINE_FIXES)
    assert "<script src=" not in text and '<link rel="stylesheet"' not in text
    manifest = json.loads((docs_dir / "work" / "target" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["exposures"]) == {
        "exposure.brukerplan.published_bi_file",
        "exposure.brukerplan.municipality_reports",
    }
    assert manifest["metadata"]["send_anonymous_usage_stats"] is False

    with Chromium(window=(1300, 900)) as browser:
        tab = browser.tab()
        open_offline(tab, page)  # no console error, no request that leaves the disk
        _wait_for(tab, lambda t: "Exposures" in _text(t) and "brukerplan" in _text(t), "the project tree")
        # the tree's icons got their references once Angular filled them in (OFFLINE_FIXES)
        icons = tab.evaluate(
            "Array.from(document.querySelectorAll('svg.icn use[ng-attr-href]')).map(u => u.getAttribute('href'))"
        )
        filled = [i for i in icons if i is not None]  # (getIcon gives nothing for a few placeholder rows)
        assert len(filled) > 50 and all(str(i).startswith("#icn-") for i in filled), filled[:5]
        references = (
            "Array.from(document.querySelectorAll('use')).map(u => (u.getAttribute('href') || '') + ' ' +"
            " (u.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || ''))"
        )
        assert [r for r in tab.evaluate(references) if "{{" in r] == []  # no template left as a reference
        # each exposure with every table it reads
        for exposure in manifest["exposures"].values():
            tab.evaluate(f"location.hash = '#!/exposure/{exposure['unique_id']}'")
            tables = [node.rsplit(".", 1)[1] for node in exposure["depends_on"]["nodes"]]
            _wait_for(
                tab,
                lambda t, e=exposure, ts=tables: e["name"] in _text(t) and all(x in _text(t) for x in ts),
                f"the exposure {exposure['name']} with {tables}",
            )
        # a mart with its columns' types from the catalog of the throwaway warehouse
        tab.evaluate("location.hash = '#!/model/model.brukerplan.mart_trends'")
        _wait_for(tab, lambda t: "geo_level" in _text(t) and "VARCHAR" in _text(t), "mart_trends' column types")
        tab.drain()
        assert tab.console_errors == []
        leaving = [u for u in tab.requests if not u.startswith(("file:", "data:", "about:"))]
        assert leaving == []
