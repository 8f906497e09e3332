"""The truth tables agree with each other."""

from __future__ import annotations

import polars as pl
import pytest

from tests.support import AREAS
from tests.synth.conftest import Generated

pytestmark = pytest.mark.slow

KEYS = ["mapping_year", "municipality_code_registered", "user_group"]


def test_colours_sum_to_persons_per_area(small: Generated) -> None:
    persons = small.truth("persons")
    lc = small.truth("living_conditions")
    sums = lc.group_by([*KEYS, "area"]).agg(pl.col("persons").sum().alias("total"))
    joined = sums.join(persons, on=KEYS, how="left")
    assert joined["persons"].null_count() == 0
    assert (joined["total"] == joined["persons"]).all()
    assert set(lc["area"]) == {*AREAS, "living_index"}
    assert set(lc.filter(pl.col("colour") == "blue")["area"]) == {"living_index"}


def test_groups_follow_rule_4(small: Generated) -> None:
    lc = small.truth("living_conditions").filter(pl.col("area") == "mental_health")
    by_group = dict(lc.group_by("user_group").agg(pl.col("colour").unique().sort()).iter_rows())
    assert by_group["rus_only"] == ["green"]
    assert by_group["rus_mental_unknown"] == ["unknown"]
    assert set(by_group["rop_serious"]) <= {"red", "yellow"}
    assert "rus_mental_unknown" in by_group


def test_housing_and_services_consistent(small: Generated) -> None:
    persons = small.truth("persons")
    housing = small.truth("housing").join(persons, on=KEYS)
    assert (housing["housing_red"] + housing["housing_yellow"] <= housing["persons"]).all()
    assert (housing["persons_with_children_red_yellow"] <= housing["housing_red"] + housing["housing_yellow"]).all()
    assert (housing["children_red_yellow"] >= housing["persons_with_children_red_yellow"]).all()
    services = small.truth("services").join(persons, on=KEYS)
    statuses = ["status_continue", "status_new", "status_end", "status_none", "status_unknown"]
    assert (services.select(pl.sum_horizontal(statuses))["status_continue"] == services["persons"]).all()
    assert (services["status_continue"] + services["status_end"] <= services["received"]).all()
    assert (services["status_continue"] + services["status_new"] <= services["recommended"]).all()
    asked = dict(services.group_by("mapping_year").agg(pl.col("service_code").n_unique()).iter_rows())
    assert asked[2013] == 16 and asked[2019] == 18 and asked[2024] == 19


def test_audit_and_participation_add_up(small: Generated) -> None:
    persons = small.truth("persons")
    audit = small.truth("audit")
    files = small.truth("audit_submissions")
    participation = small.truth("participation")
    assert audit["persons"].sum() == persons["persons"].sum() == participation["persons"].sum()
    assert audit["registrations_raw"].sum() == files["registrations_raw"].sum()
    dedup = small.truth("dedup")
    assert audit["duplicates_removed"].sum() == dedup.height
    assert audit["duplicates_cross_municipality"].sum() == dedup["is_cross_municipality"].sum()
    current = files["registrations_raw"].sum() - files["superseded"].sum()
    assert current == participation["current_registrations"].sum()
    assert current == persons["persons"].sum() + dedup.height
