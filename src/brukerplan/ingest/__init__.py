"""Ingest: land extract files (extract-format.md) in the landing zone (warehouse.md "Landing zone").

readers (csv, xlsx) -> headers (layout detection) -> mapping (canonical values and row checks) -> rules (one
rule per row, messages) -> validation (great-expectations) -> landing (atomic writes, lock, quarantine).
`pipeline.ingest_paths` runs them for a list of files."""
