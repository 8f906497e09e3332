"""Seeded random generators: one independent stream per (seed, stage, key), so a stage's output does not
depend on how much randomness another stage used, nor on which years are generated."""

from __future__ import annotations

import hashlib

import numpy as np


def rng_for(seed: int, *key: object) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *key)).encode()).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32))
