from datetime import date

import pytest

from brukerplan.ingest.filenames import BadFileName, parse_name
from brukerplan.ingest.pipeline import landing_order


def test_examples_of_the_spec_parse():
    k = parse_name("BP2016_K1601_20161130.xlsx")
    assert (k.year, k.scope, k.scope_type, k.scope_code, k.delivered_on, k.seq, k.fmt) == (
        2016,
        "K1601",
        "municipality",
        "1601",
        date(2016, 11, 30),
        0,
        "xlsx",
    )
    f = parse_name("BP2019_F34_20200203_2.csv")
    assert (f.scope_type, f.scope_code, f.seq, f.delivered_on) == ("county", "34", 2, date(2020, 2, 3))
    n = parse_name("bp2021_no_20211201.CSV")
    assert (n.scope, n.scope_type, n.scope_code, n.fmt) == ("NO", "national", None, "csv")


@pytest.mark.parametrize(
    "name",
    [
        "BP2016_K161_20161130.xlsx",  # 3-digit municipality
        "BP2016_F3_20161130.csv",
        "BP2016_K1601_20161331.xlsx",  # no 31st of the 13th month
        "BP2016_K1601_20161130_0.xlsx",  # seq 0 is not 1-99
        "BP2016_K1601_20161130_100.xlsx",
        "BP2016_K1601_20161130.xls",
        "Kartlegging 2016.xlsx",
        "BP2016_X1601_20161130.xlsx",
    ],
)
def test_bad_names_are_refused(name):
    with pytest.raises(BadFileName):
        parse_name(name)


def test_landing_order_is_year_date_seq_name_with_bad_names_last(tmp_path):
    names = [
        "zzz.csv",
        "BP2016_K0301_20161201_2.csv",
        "BP2015_NO_20170101.csv",
        "BP2016_K0301_20161201.csv",
        "BP2016_F03_20161201_2.csv",
        "aaa.csv",
    ]
    ordered = [p.name for p, _ in landing_order(tmp_path / n for n in names)]
    assert ordered == [
        "BP2015_NO_20170101.csv",
        "BP2016_K0301_20161201.csv",
        "BP2016_F03_20161201_2.csv",
        "BP2016_K0301_20161201_2.csv",
        "aaa.csv",
        "zzz.csv",
    ]
