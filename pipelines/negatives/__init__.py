"""Semantic negative mining: label-0 training pairs that look relevant but are not (the paper's "semantic negative
sampling"), plus easy negatives and a uniform-random ablation arm.

Per task, every unique training target is embedded once as a passage and every query that has a positive training
row once as a query (one Ray Data actor pass for both kinds, see :mod:`pipelines.embed`); a faiss inner-product
index over the targets returns each query's ``top_k`` neighbours.

**Hard negatives** come from the retrieval-rank window ``[range_min, range_max)`` (raw ranks, 0 = nearest, so the
``rank`` column is where the target really sat). A candidate is rejected when

* it is labelled positive for the query anywhere in the data (any split), or the pair exists at all (no duplicates,
  and no label-0 copy of a dev/test pair);
* (QC) it lies on the same line of the taxonomy as a known positive: an ancestor or a descendant of it. Category
  paths form a tree, and the ancestors of a relevant category are relevant too; the embedder cannot see that, since
  a short path like ``clothing`` embeds far from ``red summer dress``;
* the margin guard fires: its similarity exceeds ``s_pos - absolute_margin`` or ``s_pos - |s_pos| *
  relative_margin``, where ``s_pos`` is the similarity of the query's *least* similar known positive. A target the
  embedder ranks like a known-relevant one is more likely an unlabelled positive than a negative, and the least
  similar positive gives the lowest, strictest threshold: it rejects anything that scores like *some* positive,
  where the most similar one would only reject what beats the best. sentence-transformers' ``mine_hard_negatives``
  makes the same choice (and uses the same sign-safe relative formula). For QC the reference is taken over the
  query's *most specific* positives (those that are not an ancestor of another of its positives): ancestors are
  already excluded by the taxonomy rule, and as a reference their low similarity would reject almost everything.
  On synthetic data (bundled e5-small, 2000 rows/task) this keeps about 450 instead of 136 of 966 requested QC
  hard negatives, with zero false negatives either way. The price of "least similar" remains: a noisy low-similarity
  "positive" starves its query of hard negatives, and a lost hard negative is cheaper than a false negative.

**Easy negatives** are clearly irrelevant targets drawn at random: for QC a category path whose top level differs
from the top level of every known positive of the query; for QI, whose item titles carry no category, a title that
is outside the query's retrieved ``top_k`` *and* below the same guard threshold (the data has no item->category
link, so "far in embedding space" stands in for "other top-level category").

**Random negatives** (``random_negatives=True``, the ablation arm) are targets drawn uniformly from the task's
training targets, minus known positives and existing pairs; nothing is embedded. Given a semantic run's output
(``match_from``) each anchor gets exactly as many as semantic mining gave it, so the arm compares retrieval with
chance at the same count (the recipe does this whenever an embedder is configured); without one, the config's rate.

Candidates are always *training* targets: dev/test rows only tell which pairs are positive or already exist.
Each anchor (positive training row) gets floor or ceil of ``negatives_per_positive`` negatives, ``hard_fraction``
of all slots hard (exact totals per task; which anchor gets a ceiling or a hard slot is a pseudo-random function of
the seed and its id); slots the filters leave empty are reported as a shortfall per kind, never back-filled with the
other kind, so the report shows what the data and the guard really allow.

The stage keeps rows off the driver: one Ray task builds each task's shared state (its anchors grouped by query,
known positives, unique targets, 8-byte keys, embeddings, the faiss retrieval of every anchor query) into the object
store, one Ray task per range of queries mines it, and ``write_parquet`` writes the mined tables from the object
store. A query's draws come from a generator seeded by (seed, task, query), so the same seed gives the same rows
however the queries are cut into ranges, and the in-memory :func:`mine_records` gives them too.

Why not ``sentence_transformers.util.mine_hard_negatives`` itself: it embeds in-process (we embed on Ray actors),
it knows only the positives of the dataset it is given (we must exclude positives from every split and never
duplicate a dev/test pair), it has no easy/random arms, and it needs the ``datasets`` package, which ecomrel does
not install. Its parameter names (``range_min``, ``range_max``, ``absolute_margin``, ``relative_margin``,
``sampling_strategy``) and its guard semantics are kept, with one deliberate difference: its range counts ranks
after positives and guarded candidates are removed, ours counts raw retrieval ranks (see above).

Modules: :mod:`.inputs` (read and check the records, one task's view of them), :mod:`.vectors` (what is embedded),
:mod:`.index` (faiss), :mod:`.guard` (the false-negative rules above), :mod:`.slots` (negatives per anchor, random
draws), :mod:`.rows` (the mined rows), :mod:`.mining` (a task's shared context, one query's mining, one function per
kind), :mod:`.report` (counts, drops, label balance) and :mod:`.stage` (the whole run and the stage's I/O).
"""

from .config import NegativesConfig
from .guard import guard_thresholds
from .index import build_index, exact_search, recall_at_k
from .inputs import all_task_inputs, load_records, stream_task_inputs
from .mining import TaskContext, mine_queries, task_context
from .rows import MINED_SCHEMA
from .slots import Matched, plan_quotas
from .stage import matched_counts, mine_negatives, mine_records, negatives_stage, report_section
from .vectors import MiningVectors, embed_for_mining, mining_texts

__all__ = [
    "MINED_SCHEMA",
    "Matched",
    "MiningVectors",
    "NegativesConfig",
    "TaskContext",
    "all_task_inputs",
    "build_index",
    "embed_for_mining",
    "exact_search",
    "guard_thresholds",
    "load_records",
    "matched_counts",
    "mine_negatives",
    "mine_queries",
    "mine_records",
    "mining_texts",
    "negatives_stage",
    "plan_quotas",
    "recall_at_k",
    "report_section",
    "stream_task_inputs",
    "task_context",
]
