"""Publishing for BI (warehouse.md "Publishing for BI"): the marts and dimensions of a green build, with
small counts withheld (primary and complementary suppression), written atomically to a DuckDB file that
DuckDB 1.4+ clients can open, plus Parquet copies and a metadata table."""

from brukerplan.publish.publisher import PublishError, PublishResult, publish

__all__ = ["PublishError", "PublishResult", "publish"]
