"""The return tests use the session chain of tests/conftest.py (synth -> ingest -> dbt, built once per run)."""
