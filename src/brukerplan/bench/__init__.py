"""Benchmarks: per-step time, CPU, peak memory and rows, at several synthetic scales (`brukerplan bench`)."""
