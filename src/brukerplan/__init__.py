"""BrukerPlan warehouse: ingest, synthetic data, dbt build, publishing and reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("brukerplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
