"""What ingest writes is the landing contract (models/staging/landing/_landing__sources.yml): every file lies
where a contract glob says, every Parquet file has exactly the contract's Arrow schema, and every JSON record
has exactly the contract's keys."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pyarrow.parquet as pq

from brukerplan.ingest.contract import landing_tables
from brukerplan.ingest.pipeline import DATA_DOCS
from tests.ingest.fixtures import YEAR_OF, layout, rows_of, write_csv


def test_landed_files_follow_the_contract(extracts, run_ingest, tmp_settings):
    year = YEAR_OF["v3"]
    rows = rows_of("v3", 20)
    [sex] = (c.header for c in layout("v3").columns if c.canonical == "sex")
    rows[2][sex] = "X"  # one rejected row, so rejects are written too
    good = write_csv(extracts / f"BP{year}_F03_{year}1201.csv", rows)
    broken = extracts / f"BP{year}_F03_{year}1202.csv"
    broken.write_bytes(b"\x00\x01\x02 not a text file")
    result = run_ingest([good, broken])
    assert sorted(f.status for f in result.files) == ["landed", "quarantined"], [f.message for f in result.files]

    tables = landing_tables()
    landing = tmp_settings.landing
    seen = {name: 0 for name in tables}
    for path in landing.rglob("*"):
        relative = path.relative_to(landing).as_posix()
        if not path.is_file() or relative.split("/")[0] in ("_tmp", "validation", DATA_DOCS, ".lock"):
            continue
        matches = [t for t in tables.values() if fnmatch(relative, t.glob)]
        if relative.startswith("quarantine/") and not matches:
            continue  # the quarantined file itself and report.md lie beside report.json
        assert len(matches) == 1, f"{relative} matches {len(matches)} contract globs"
        table = matches[0]
        seen[table.name] += 1
        if table.file_format == "parquet":
            assert pq.read_schema(path).remove_metadata() == table.schema, relative
        else:
            keys = set(json.loads(path.read_text(encoding="utf-8")))
            assert set(table.schema.names) <= keys, f"{relative} lacks {set(table.schema.names) - keys}"
    assert all(seen.values()), seen
