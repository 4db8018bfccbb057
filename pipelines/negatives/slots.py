"""How many negatives of each kind every anchor is owed, and the uniform random draw that fills easy and random
slots.

The split of a task's negatives over its anchors is decided per anchor from 64-bit keys (a hash of the seed and
the anchor's id), so a block of anchors computes its own quotas without seeing the others, and the result does
not depend on how the anchors are cut into blocks. Only two numbers per task come from all anchors: the largest
key that still gets the extra negative, and the largest slot key that is still hard (:func:`plan_quotas`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ecomrel.schema import Source

from .config import NegativesConfig

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function of ``x + golden``: independent-looking 64-bit values for nearby inputs."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class Matched:
    """The random arm's per-anchor counts taken from a semantic run: anchor keys (sorted, unique) and counts."""

    keys: np.ndarray
    counts: np.ndarray

    def of(self, anchor_keys: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.zeros(len(anchor_keys), dtype=np.int64)
        i = np.searchsorted(self.keys, anchor_keys).clip(max=len(self.keys) - 1)
        return np.where(self.keys[i] == anchor_keys, self.counts[i], 0).astype(np.int64)


@dataclass(frozen=True)
class Quotas:
    """A task's plan: every anchor gets ``base`` negatives, one more when its draw key is ``<= ceil_upto``;
    a slot is hard when its key is ``<= hard_upto`` (semantic runs; None: no such anchor or slot). The random
    arm draws ``matched``'s counts instead, when given."""

    seed: int
    base: int
    ceil_upto: int | None
    hard_upto: int | None
    random: bool
    matched: Matched | None
    requested: dict[str, int]

    def of(self, anchor_keys: np.ndarray) -> dict[Source, np.ndarray]:
        """Negatives per anchor by kind for the anchors with these keys (:meth:`KeySet.hash` of split and id)."""
        anchor_keys = np.asarray(anchor_keys, dtype=np.uint64)
        if self.matched is not None:
            return {Source.RANDOM_NEGATIVE: self.matched.of(anchor_keys)}
        draw = _draw_keys(anchor_keys, self.seed)
        quota = np.full(len(draw), self.base, dtype=np.int64)
        if self.ceil_upto is not None:
            quota += draw <= np.uint64(self.ceil_upto)
        if self.random:
            return {Source.RANDOM_NEGATIVE: quota}
        slots, owner = _slot_keys(draw, quota)
        hard = np.zeros(len(draw), dtype=np.int64)
        if self.hard_upto is not None:
            hard = np.bincount(owner[slots <= np.uint64(self.hard_upto)], minlength=len(draw)).astype(np.int64)
        return {Source.HARD_NEGATIVE: hard, Source.EASY_NEGATIVE: quota - hard}


def _draw_keys(anchor_keys: np.ndarray, seed: int) -> np.ndarray:
    salt = _splitmix(np.array([seed], dtype=np.uint64))[0]
    return _splitmix(anchor_keys ^ salt)


def _slot_keys(draw: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The key of every slot (slot k of an anchor: its draw key mixed with k) and the anchor owning it."""
    owner = np.repeat(np.arange(len(draw)), quota)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(quota) - quota, quota)
    return _splitmix(draw[owner] + k.astype(np.uint64) + np.uint64(1)), owner


def plan_quotas(anchor_keys: np.ndarray, cfg: NegativesConfig, matched: Matched | None) -> Quotas:
    """Split round(anchors * negatives_per_positive) negatives over a task's anchors (each gets floor or ceil of
    the rate, the ceilings going to the anchors with the smallest draw keys) and over hard/easy
    (round(total * hard_fraction) hard slots, those with the smallest slot keys; none for the random arm).
    Exact totals, each anchor's share a pseudo-random function of its key; ``matched`` (random arm) replaces
    the rate by a semantic run's per-anchor counts."""
    keys = np.asarray(anchor_keys, dtype=np.uint64)
    n = len(keys)
    plan = {"seed": cfg.seed, "random": cfg.random_negatives, "matched": matched}
    if matched is not None:
        total = int(matched.of(keys).sum())
        return Quotas(base=0, ceil_upto=None, hard_upto=None, requested={Source.RANDOM_NEGATIVE.value: total}, **plan)
    total = round(n * cfg.negatives_per_positive)
    base = math.floor(cfg.negatives_per_positive)
    extra = total - base * n
    draw = _draw_keys(keys, cfg.seed)
    ceil_upto = int(np.partition(draw, extra - 1)[extra - 1]) if extra > 0 else None
    if cfg.random_negatives:
        requested = {Source.RANDOM_NEGATIVE.value: total}
        return Quotas(base=base, ceil_upto=ceil_upto, hard_upto=None, requested=requested, **plan)
    quota = np.full(n, base, dtype=np.int64)
    if ceil_upto is not None:
        quota += draw <= np.uint64(ceil_upto)
    n_hard = round(total * cfg.hard_fraction)
    slots, _ = _slot_keys(draw, quota)
    hard_upto = int(np.partition(slots, n_hard - 1)[n_hard - 1]) if n_hard > 0 else None
    requested = {Source.HARD_NEGATIVE.value: n_hard, Source.EASY_NEGATIVE.value: total - n_hard}
    return Quotas(base=base, ceil_upto=ceil_upto, hard_upto=hard_upto, requested=requested, **plan)


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
