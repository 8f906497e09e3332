"""The bench's verdicts on issue 17's targets: met, missed, failed or not measured, from the measures of one run."""

from __future__ import annotations

from brukerplan.bench.runner import StepMeasure, target_lines


def _measure(
    step: str, seconds: float, scale: float = 1.0, peak: float = 100.0, exit_code: int = 0, **detail: object
) -> StepMeasure:
    return StepMeasure(scale, step, exit_code, seconds, seconds, peak, detail=dict(detail))


def _verdicts(measures: list[StepMeasure]) -> dict[str, tuple[str, str]]:
    rows = [line.strip("|").split("|") for line in target_lines(measures)[2:]]
    return {cells[0].strip(): (cells[2].strip(), cells[3].strip()) for cells in rows}


def test_each_target_is_met_missed_or_not_measured() -> None:
    measures = [
        _measure("incremental cycle", 19.0),
        _measure("baseline: duckdb read_csv → parquet", 30.0, ratio_ours_to_baseline=1.6),
        _measure("baseline: polars read_excel (calamine)", 30.0, ratio_ours_to_baseline=2.9),
        _measure("dbt build", 50.0, scale=5.0, peak=5000.0),
        _measure("report", 39.0),
        *(_measure(step, 20.0) for step in ("synth", "ingest (all)", "dbt build", "publish", "report")),
    ]
    verdicts = _verdicts(measures)
    assert verdicts["one new submission -> warehouse + published file"] == ("19.0 s", "met")
    assert verdicts["ingest CSV / DuckDB read_csv -> Parquet"] == ("1.6×", "MISSED")
    assert verdicts["ingest xlsx / bare calamine"] == ("2.9×", "met")
    # fast enough but over the memory limit
    assert verdicts["dbt build, scale 5"] == ("50.0 s, 4.9 GiB", "MISSED")
    # the demo's return step was not measured: no sum, no verdict
    assert verdicts["`make demo` (its steps, after setup)"] == ("", "not measured")


def test_the_demo_is_the_sum_of_its_steps_at_scale_one() -> None:
    steps = ("synth", "ingest (all)", "dbt build", "publish", "report", "return")
    measures = [_measure(step, 19.0) for step in steps] + [_measure("synth", 500.0, scale=5.0)]
    assert _verdicts(measures)["`make demo` (its steps, after setup)"] == ("114.0 s", "met")
    measures[0] = _measure("synth", 25.0)
    assert _verdicts(measures)["`make demo` (its steps, after setup)"] == ("120.0 s", "MISSED")


def test_a_step_that_failed_is_no_measure_of_its_target() -> None:
    # the scale-5 build that ran out of memory after 178 s was reported as a time, as if it had built the warehouse
    steps = ("synth", "ingest (all)", "dbt build", "publish", "report", "return")
    measures = [_measure(step, 10.0) for step in steps] + [_measure("dbt build", 50.0, scale=5.0, exit_code=1)]
    verdicts = _verdicts(measures)
    assert verdicts["dbt build, scale 5"] == ("50.0 s, 0.1 GiB", "FAILED: dbt build exit 1")
    assert verdicts["reports (pages + PDFs)"] == ("10.0 s", "met")
    assert verdicts["`make demo` (its steps, after setup)"] == ("60.0 s", "met")
    measures[4] = _measure("report", 10.0, exit_code=1)
    verdicts = _verdicts(measures)
    assert verdicts["reports (pages + PDFs)"] == ("10.0 s", "FAILED: report exit 1")
    assert verdicts["`make demo` (its steps, after setup)"] == ("60.0 s", "FAILED: report exit 1")
