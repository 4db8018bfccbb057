"""How many negatives of each kind every anchor is owed, and the uniform random draw that fills easy and random
slots."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from ecomrel.schema import Source

from .config import NegativesConfig
from .inputs import TaskInput


def quotas(
    ti: TaskInput, cfg: NegativesConfig, rng: np.random.Generator, match: Mapping[str, int] | None
) -> dict[Source, np.ndarray]:
    """Negatives per anchor, by kind: hard and easy (semantic mining), or random (the random arm: the config's
    rate, or ``match``'s anchor id -> count when given). The rate's split is drawn from ``rng`` even when ``match``
    replaces it, so ``rng`` is in the same state for the draws that follow either way."""
    hard, easy = _allocate(len(ti.anchors), cfg, rng)
    if not cfg.random_negatives:
        return {Source.HARD_NEGATIVE: hard, Source.EASY_NEGATIVE: easy}
    if match is None:
        return {Source.RANDOM_NEGATIVE: hard + easy}
    return {Source.RANDOM_NEGATIVE: np.array([match.get(a["id"], 0) for a in ti.anchors], dtype=np.int64)}


def _allocate(n_anchors: int, cfg: NegativesConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split round(n_anchors * negatives_per_positive) negatives over anchors (each gets floor or ceil of the
    rate, the ceilings at random) and over hard/easy (round(total * hard_fraction) hard slots, at random; none for
    the random arm). Returns (hard per anchor, easy per anchor)."""
    total = round(n_anchors * cfg.negatives_per_positive)
    base = math.floor(cfg.negatives_per_positive)
    quota = np.full(n_anchors, base, dtype=np.int64)
    extra = total - base * n_anchors
    if extra > 0:
        quota[rng.choice(n_anchors, size=extra, replace=False)] += 1
    n_hard = 0 if cfg.random_negatives else round(total * cfg.hard_fraction)
    slot_owner = np.repeat(np.arange(n_anchors), quota)
    is_hard = np.zeros(total, dtype=bool)
    is_hard[rng.choice(total, size=n_hard, replace=False)] = True
    hard = np.bincount(slot_owner[is_hard], minlength=n_anchors)
    return hard, quota - hard


def draw(rng: np.random.Generator, n: int, need: int, accept: Callable[[int], bool], exclude: set[int]) -> list[int]:
    """Up to ``need`` distinct indices in [0, n) passing ``accept``, uniformly at random. Two cheap rounds of
    rejection sampling, then one full permutation so that a valid candidate is never missed by bad luck."""
    picked: list[int] = []
    if need <= 0:
        return picked
    seen = set(exclude)
    for attempt in range(3):
        candidates = rng.permutation(n) if attempt == 2 else rng.choice(n, size=min(n, 4 * need + 16), replace=False)
        for j in candidates.tolist():
            if j in seen:
                continue
            seen.add(j)
            if accept(j):
                picked.append(j)
                if len(picked) == need:
                    return picked
        if len(seen) >= n:
            break
    return picked
