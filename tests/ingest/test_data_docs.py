"""great-expectations Data Docs for each ingest run (issue 15 item 5): the run writes a Data Docs site into the
restricted landing zone (data_docs/<run>/), the ingest summary names its index, and the report of a file
quarantined by the suite (Q08) links to that file's own validation page. Every link must lead to a file that
exists."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console

from brukerplan.codes import load_codebook
from brukerplan.ingest.cli_view import show
from brukerplan.ingest.pipeline import Ingestor
from brukerplan.ingest.validation import GxValidator, ValidationOutcome
from tests.ingest.conftest import read_landed
from tests.ingest.fixtures import YEAR_OF, rows_of, write_csv

YEAR = YEAR_OF["v3"]
SUMMARY_LINE = re.compile(r"validation results \((\d+) great-expectations Data Docs page\(s\), restricted\): (\S+)")


def _summary(result, settings) -> str:
    out = io.StringIO()
    show(result, settings, Console(file=out, width=120))
    return out.getvalue()


def _visible(page: Path) -> str:
    """The text of an HTML page as a reader sees it (no scripts, styles or tags; spaces collapsed)."""
    text = re.sub(r"<(script|style).*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _links(page: Path) -> list[Path]:
    """The local pages an HTML page links to (href to .html, relative to the page), resolved."""
    text = page.read_text(encoding="utf-8")
    return [(page.parent / href).resolve() for href in re.findall(r'href="([^"#:]+\.html)"', text)]


def test_a_run_writes_its_data_docs_and_the_summary_names_them(extracts, run_ingest, tmp_settings):
    first = write_csv(extracts / f"BP{YEAR}_F03_{YEAR}1201.csv", rows_of("v3", 20))
    second = write_csv(extracts / f"BP{YEAR}_F03_{YEAR}1202.csv", rows_of("v3", 30))
    result = run_ingest([first, second])
    assert [f.status for f in result.files] == ["landed", "landed"]

    summary = _summary(result, tmp_settings)
    [(pages, index)] = SUMMARY_LINE.findall(summary)
    index = Path(index)
    assert index == result.data_docs and index.is_file() and pages == "1"
    assert index.parent.parent == tmp_settings.landing / "data_docs"
    # the index (great-expectations' own page) lists the run's one validation: both files in one suite run
    assert '"run_name": "' + index.parent.name + '"' in index.read_text(encoding="utf-8").replace("'", '"')
    [page] = [p for p in index.parent.glob("validations/registrations/*/*/*.html")]
    assert page.name == f"{first.name}-and-1-more.html"
    text = _visible(page)
    assert f"Batch Markers files {first.name}, {second.name}" in text  # the batch's files
    assert f"Run Name {index.parent.name}" in text and "Status: Succeeded" in text
    assert "Unsuccessful Expectations 0" in text and "values must belong to this set" in text
    # the page's own links (home, the suite's page) lead to files of the site
    targets = _links(page)
    assert index.resolve() in targets and all(t.is_file() for t in targets), targets
    assert (index.parent / "expectations" / "registrations.html").is_file()
    # restricted like the rest of the landing zone; nothing left in _tmp
    for path in [index.parent, *index.parent.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert list((tmp_settings.landing / "_tmp").iterdir()) == []

    # the same files again: nothing is validated, so no Data Docs and no line in the summary
    again = run_ingest([first, second])
    assert again.data_docs is None and "Data Docs" not in _summary(again, tmp_settings)
    assert [p.name for p in (tmp_settings.landing / "data_docs").iterdir()] == [index.parent.name]

    # a new file in a later run: a site of its own, listing only that run's validation
    third = write_csv(extracts / f"BP{YEAR}_F03_{YEAR}1203.csv", rows_of("v3", 25))
    later = run_ingest([third])
    assert later.data_docs is not None and later.data_docs.parent != index.parent
    assert [p.name for p in later.data_docs.parent.glob("validations/**/*.html")] == [f"{third.name}.html"]


class BreaksOneFile(GxValidator):
    """The real suite, on a table in which the rows of one submission appear twice (the lineage key is then not
    unique): great-expectations itself fails that submission (Q08)."""

    def __init__(self, submission_id: str) -> None:
        super().__init__(load_codebook())
        self.submission_id = submission_id

    def validate(self, table: pa.Table) -> ValidationOutcome:
        mine = table.filter(pc.equal(table.column("submission_id"), self.submission_id))
        return super().validate(pa.concat_tables([table, mine]) if mine.num_rows else table)


def test_a_q08_report_links_to_the_failed_files_page(extracts, tmp_settings):
    good = write_csv(extracts / f"BP{YEAR}_F03_{YEAR}1201.csv", rows_of("v3", 20))
    bad = write_csv(extracts / f"BP{YEAR}_F03_{YEAR}1202.csv", rows_of("v3", 21))
    breaks = BreaksOneFile(hashlib.sha256(bad.read_bytes()).hexdigest()[:16])
    result = Ingestor(tmp_settings, validator=breaks).run([good, bad], lock_timeout=30)
    assert [(f.name, f.status, f.rule_id) for f in result.files] == [
        (good.name, "landed", None),
        (bad.name, "quarantined", "Q08"),
    ]
    assert {r["registration_id"] for r in read_landed(tmp_settings.landing)}  # the good file landed
    # three validations: the batch (failed), then each file alone
    assert result.data_docs is not None and result.data_docs.is_file() and result.data_docs_pages == 3
    [(_pages, index)] = SUMMARY_LINE.findall(_summary(result, tmp_settings))
    assert Path(index) == result.data_docs

    [folder] = list((tmp_settings.landing / "quarantine").iterdir())
    report_md = (folder / "report.md").read_text(encoding="utf-8")
    [(shown, href)] = re.findall(r"great-expectations Data Docs of the result: \[([^\]]+)\]\(([^)]+)\)", report_md)
    page = (folder / href).resolve()
    assert page.is_file() and page.name == f"{bad.name}.html"
    assert page == (tmp_settings.landing / shown).resolve()
    assert page.parent.parent.parent.parent.parent == result.data_docs.parent  # the run's own site
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["details"]["data_docs"] == shown
    text = _visible(page)
    assert "Status: Failed" in text and "Unsuccessful Expectations 1" in text
    assert "Values for given compound columns must be unique together: submission_id , source_row" in text
    assert "Sampled Unexpected Values" in text  # sample values: why the site stays in the restricted zone
    # the good file's page is there too, and passed; the batch's page failed
    [good_page] = list(result.data_docs.parent.rglob(f"{good.name}.html"))
    assert "Status: Succeeded" in _visible(good_page)
    [batch_page] = list(result.data_docs.parent.rglob(f"{good.name}-and-1-more.html"))
    assert "Status: Failed" in _visible(batch_page)
