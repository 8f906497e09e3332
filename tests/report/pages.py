"""Report pages in headless Chromium, for the browser tests: which municipalities to open (one that mapped every
year, one every second year, one merged in 2020, picked from the published file) and opening a page offline."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb

from brukerplan.report.browser import Tab


def pick_municipalities(published: Path) -> dict[str, str]:
    """every_year / every_second_year / merged_2020 municipality codes, from the published file."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        all_years = [
            r[0] for r in con.execute("select distinct mapping_year from mart_participation order by 1").fetchall()
        ]
        years = {
            code: sorted(ys)
            for code, ys in con.execute(
                "select geo_code, list(mapping_year) from mart_participation where geo_level = 'municipality' "
                "and municipalities_participating > 0 group by geo_code order by geo_code"
            ).fetchall()
        }
        merged = con.execute(
            "select municipality_code from dim_municipality where valid_to = ? group by municipality_code "
            "having count(distinct municipality_code_registered) >= 2 order by municipality_code",
            [dt.date(2020, 1, 1)],
        ).fetchall()
    finally:
        con.close()
    every = [c for c, ys in years.items() if ys == all_years]
    second = [c for c, ys in years.items() if len(ys) >= 3 and all(b - a == 2 for a, b in itertools.pairwise(ys))]
    merged_codes = [r[0] for r in merged if r[0] in years]
    assert every and second and merged_codes, (every, second, merged_codes)
    # three different municipalities where the data allow it
    merged_pick = next((c for c in merged_codes if c not in every[:1]), merged_codes[0])
    second_pick = next((c for c in second if c != merged_pick), second[0])
    return {"every_year": every[0], "every_second_year": second_pick, "merged_2020": merged_pick}


def open_offline(tab: Tab, page: Path, screenshot: Path | None = None) -> None:
    """Open `page` in `tab` (with a screenshot to `screenshot`): no console error, no request that leaves the
    disk."""
    tab.console_errors.clear()
    tab.requests.clear()
    tab.open(page.resolve().as_uri())
    if screenshot is not None:
        tab.screenshot(screenshot)
    tab.drain()
    assert tab.console_errors == [], f"{page.name}: {tab.console_errors}"
    leaving = [u for u in tab.requests if not u.startswith(("file:", "data:", "about:"))]
    assert leaving == [], f"{page.name} fetched {leaving}"
