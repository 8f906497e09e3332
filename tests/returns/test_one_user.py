"""The one-user sheet: for one person of one municipality, a PDF that opens only with the municipality's secret,
and (with --unencrypted) an HTML page that Chromium shows without console errors, with that person only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pikepdf
import pytest

from brukerplan.report.browser import Chromium, find_chromium
from brukerplan.settings import PROJECT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTEFACTS = PROJECT_DIR / "build" / "test-artefacts" / "returns"
SECRET = "one-user-secret-123"


def _return(chain, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a short TMPDIR of the run's own: Chromium's profile sockets must fit in a Unix socket path (108 bytes)
    tmpdir = tempfile.mkdtemp(prefix="bp-1u-", dir="/tmp")
    env = {**os.environ, **chain.settings.as_env(), "TMPDIR": tmpdir}
    run = subprocess.run(
        [sys.executable, "-m", "brukerplan", "return", "--returns", str(root / "returns"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(tmpdir, ignore_errors=True)
    return run


def test_one_user_sheet(chain, tmp_path: Path) -> None:
    assert find_chromium() is not None, "Chromium is needed: `apt-get install chromium`"
    con = duckdb.connect(str(chain.settings.warehouse), read_only=True)
    code, person, mapped = con.execute(
        "select municipality_code, person_id, mappings_by_municipality from returns.fct_return_person_year"
        " where mappings_by_municipality >= 2 order by municipality_code, person_id limit 1"
    ).fetchone()
    others = {p for (p,) in con.execute("select distinct person_id from returns.fct_return_registration").fetchall()}
    con.close()
    keys = tmp_path / "keys.csv"
    keys.write_text(f"{code},{SECRET}\n", encoding="utf-8")
    os.chmod(keys, 0o600)

    run = _return(chain, tmp_path, "--keys", str(keys), "--municipality", code, "--person", person)
    assert run.returncode == 0, run.stdout + run.stderr
    folder = tmp_path / "returns" / code / "one-user" / person
    assert sorted(p.name for p in folder.iterdir()) == ["bruker_" + person + ".pdf", "manifest.json"]
    pdf = folder / f"bruker_{person}.pdf"
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(pdf)
    with pikepdf.open(pdf, password=SECRET) as document:
        assert len(document.pages) >= 1
        assert document.encryption.bits == 256

    plain = tmp_path / "plain"
    run = _return(chain, plain, "--unencrypted", "--municipality", code, "--person", person)
    assert run.returncode == 0 and "UNENCRYPTED" in run.stdout, run.stdout + run.stderr
    html = plain / "returns" / code / "one-user" / person / f"bruker_{person}.html"
    text = html.read_text(encoding="utf-8")
    assert {token for token in re.findall(r"\b[0-9a-f]{16}\b", text) if token in others} == {person}
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    with Chromium(window=(1000, 1200)) as browser:
        tab = browser.tab()
        tab.open(html.as_uri())
        shown = tab.evaluate(
            "[document.body.dataset.person, document.querySelectorAll('#areas tbody tr').length,"
            " document.querySelectorAll('#areas thead th').length - 1]"
        )
        tab.screenshot(ARTEFACTS / "one_user_sheet.png")
        assert tab.console_errors == []
        assert all(url.startswith(("file:", "data:")) for url in tab.requests), tab.requests
        tab.close()
    assert shown == [person, 9, mapped]


def test_a_person_the_municipality_did_not_register_is_a_usage_error(chain, tmp_path: Path) -> None:
    run = _return(chain, tmp_path, "--unencrypted", "--municipality", "0301", "--person", "ffffffffffffffff")
    assert run.returncode == 2
    assert "ffffffffffffffff" in run.stdout and "0301" in run.stdout
    assert not (tmp_path / "returns").exists() or not any((tmp_path / "returns").rglob("*.html"))
