"""Synthetic BrukerPlan extracts with an exact ground truth (`brukerplan synth`, docs/truth.md)."""
