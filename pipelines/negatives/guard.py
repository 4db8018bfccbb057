"""The false-negative rules a candidate negative must pass (the package docstring says why): not a known positive,
not an existing pair, (QC) not on the taxonomy line of a known positive, and not above the margin guard's
similarity threshold. Each rejection is counted in a :class:`Drops` per kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .inputs import TaskInput
from .vectors import MiningVectors


@dataclass
class Drops:
    """Candidates one kind of negative lost, by rule."""

    known_positive: int = 0
    existing_pair: int = 0
    taxonomy: int = 0
    margin_guard: int = 0

    def add(self, other: Drops) -> None:
        self.known_positive += other.known_positive
        self.existing_pair += other.existing_pair
        self.taxonomy += other.taxonomy
        self.margin_guard += other.margin_guard

    def as_dict(self) -> dict[str, int]:
        return {
            "known_positive": self.known_positive,
            "existing_pair": self.existing_pair,
            "taxonomy": self.taxonomy,
            "margin": self.margin_guard,
        }


def usable(ti: TaskInput, query: str, target: str, drops: Drops) -> bool:
    """False (and counted) when ``target`` is labelled positive for ``query`` anywhere or the pair exists at all."""
    if target in ti.known_positive.get(query, ()):
        drops.known_positive += 1
        return False
    if (query, target) in ti.existing:
        drops.existing_pair += 1
        return False
    return True


def passes_hard_rules(
    ti: TaskInput,
    query: str,
    target: str,
    levels: tuple[str, ...] | None,
    similarity: float,
    threshold: float,
    drops: Drops,
) -> bool:
    """Every rule for a hard candidate, in order: :func:`usable`, then (QC, where ``levels`` are the target's
    category levels) the taxonomy rule, then the margin guard. The first rule that fires is counted."""
    if not usable(ti, query, target, drops):
        return False
    if levels is not None and any(_same_line(levels, lv) for lv in ti.positive_levels[query]):
        drops.taxonomy += 1
        return False
    if similarity > threshold:
        drops.margin_guard += 1
        return False
    return True


def _same_line(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """True when one category path is an ancestor of (or equal to) the other."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def reference_positives(ti: TaskInput, query: str) -> list[str]:
    """The positives the margin guard measures against: all of them, except that for QC a positive that is an
    ancestor of another positive of the query is left out (see the package docstring)."""
    positives = sorted(ti.known_positive[query])
    if not ti.positive_levels:
        return positives
    levels = ti.positive_levels[query]  # sorted like ``positives``
    return [
        p
        for p, lv in zip(positives, levels, strict=True)
        if not any(len(other) > len(lv) and other[: len(lv)] == lv for other in levels)
    ]


def least_positive_similarity(ti: TaskInput, queries: Sequence[str], vectors: MiningVectors) -> np.ndarray:
    """Per query, the similarity of its least similar reference positive (``s_pos`` of the margin guard)."""
    q_vec, t_vec = vectors.queries, vectors.targets
    return np.array([min(float(q_vec[q] @ t_vec[p]) for p in reference_positives(ti, q)) for q in queries])


def guard_thresholds(
    least_positive_similarity: np.ndarray, absolute_margin: float | None, relative_margin: float | None
) -> np.ndarray:
    """Per query, the highest similarity a negative may have (inf without margins). Same formulas as
    sentence-transformers: ``s - absolute_margin`` and the sign-safe ``s - |s| * relative_margin``."""
    s = np.asarray(least_positive_similarity, dtype=np.float64)
    threshold = np.full_like(s, np.inf)
    if absolute_margin is not None:
        threshold = np.minimum(threshold, s - absolute_margin)
    if relative_margin is not None:
        threshold = np.minimum(threshold, s - np.abs(s) * relative_margin)
    return threshold
