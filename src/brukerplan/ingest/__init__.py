"""Ingest: land extract files (extract-format.md) in the landing zone (warehouse.md "Landing zone").

readers (csv, xlsx) -> headers (layout detection) -> mapping (canonical values and row checks) -> rules (one
rule per row, messages) -> validation (great-expectations) -> landing (atomic writes, lock, quarantine).
`pipeline.Ingestor` runs them for a list of files: read ahead in threads (read_ahead), mapped many files at once
(batch), validated in a child process (validation_worker) while the next files are read."""
