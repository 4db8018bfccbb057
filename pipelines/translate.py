"""Translation augmentation: labelled training rows of high-resource languages, translated into each task's
zero-shot languages (in dev/test, absent from train), behind a quality gate.

Only the query is translated; the label and the category path / item title stay as they are, so a translated row
asks the same relevance question in another language. The stage runs in three steps:

1. **Plan** (driver): for each task, source language (``cfg.source_languages``; the paper translates Spanish) and
   zero-shot target language, ``cfg.rows_per_pair`` labelled rows are sampled, seeded and stratified by label so a
   pair keeps its source's label balance.
2. **Translate** (Ray Data): translator actors (``map_batches`` with a callable class, ``cfg.concurrency`` actors
   with ``cfg.num_cpus`` / ``cfg.num_gpus`` each), or vLLM through ``ray.data.llm`` for the ``vllm`` backend.
3. **Gate** (Ray Data): gate actors hold a lingua detector and the embedding model and check every output. A weak
   translator then costs rows, never data quality: each rejected row goes to ``rejects/`` with its reason.

Gate checks, in the order that names a row's reason (every failing check is recorded too):

``empty``        no output at all.
``garbage``      control characters or line breaks, U+FFFD, no letters, or prompt scaffolding ("German:").
``copy``         the output equals the source after Unicode/case/punctuation normalisation.
``length_ratio`` output/source length in characters outside ``cfg.length_ratio``.
``language``     lingua's most likely language (of ecomrel's 13) is not the target, or its confidence in the
                 target is below ``cfg.min_language_confidence``.
``similarity``   cosine of source and output embeddings (``EmbedConfig`` model) below ``cfg.min_similarity``.

Accepted rows have the record columns (``source="translated"``, ``parent_id`` = the source row's id, id
``{parent_id}-tr-{language}``, ``language`` = the target) plus ``source_language`` and ``source_query``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field, model_validator

from ecomrel import telemetry
from ecomrel.config import ActorPool, Toggle, VllmBackend
from ecomrel.languages import LANGUAGES, to_iso
from ecomrel.manifest import Manifest, StageRun, read_manifest, run_stage
from ecomrel.records import read_dataset, write_dataset
from ecomrel.schema import RECORD_COLUMNS, RECORD_SCHEMA, UNLABELED, Source, Split
from pipelines.audit import load_audit
from pipelines.embed import EmbedConfig, Embedder
from pipelines.translators import Translator, build_vllm_translator, make_translator

log = logging.getLogger(__name__)


class TranslateConfig(Toggle, ActorPool, VllmBackend):
    backend: Literal["causal_lm", "seq2seq", "vllm"] = Field(
        "causal_lm", description="causal LM prompted to translate, a seq2seq model, or vLLM via ray.data.llm."
    )
    model: str | None = Field(
        None, description="Translator name or path (cluster: ByteDance-Seed/Seed-X-PPO-7B); required when enabled."
    )
    source_languages: list[str] = Field(
        default_factory=lambda: ["es"], description="Train languages translated from (the paper: Spanish)."
    )
    rows_per_pair: int = Field(200, ge=1, description="Source rows sampled per (task, source, target language).")
    max_new_tokens: int = Field(48, ge=1, description="Generation budget per translation.")
    batch_size: int = Field(16, ge=1, description="Rows per translator call and per generate() batch.")
    min_similarity: float = Field(
        0.84,
        ge=-1,
        le=1,
        description="Quality gate: minimum cross-lingual embedding cosine source/translation. Embedder-specific: "
        "multilingual-e5-small squeezes cosines together (reference translations 0.82-0.97, unrelated queries "
        "0.75-0.84); 0.84 keeps 97.5% of reference translations and 2.9% of unrelated pairs there.",
    )
    length_ratio: tuple[float, float] = Field(
        (0.3, 3.0), description="Quality gate: allowed translation/source character-length ratio (low, high)."
    )
    min_language_confidence: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Quality gate: the output's most likely language (lingua, over ecomrel's 13) must be the "
        "target, with at least this confidence. Short queries score low even when right (correct Italian "
        "queries: 75% reach 0.5, 95% reach 0.3), so 0.3.",
    )
    seed: int = Field(0, description="Sampling seed.")

    @model_validator(mode="after")
    def _consistent(self) -> TranslateConfig:
        if self.enabled and not self.model:
            raise ValueError("translate.model is required when translation is enabled")
        lo, hi = self.length_ratio
        if not 0 <= lo <= hi:
            raise ValueError(f"length_ratio must be (low, high) with 0 <= low <= high, got {self.length_ratio}")
        return self


#: Gate checks in the order that decides a rejected row's reason.
CHECKS: tuple[str, ...] = ("empty", "garbage", "copy", "length_ratio", "language", "similarity")

#: Columns of a planned row (one per (source row, target language)).
PLAN_COLUMNS: tuple[str, ...] = (
    "parent_id",
    "task",
    "source_language",
    "target_language",
    "source_query",
    "target",
    "label",
)
#: Columns the plan reads from the training rows.
_PLAN_INPUT: tuple[str, ...] = ("id", "task", "split", "language", "query", "target", "label")
#: Columns the gate adds.
GATE_COLUMNS: tuple[str, ...] = (
    "detected_language",
    "language_confidence",
    "similarity",
    "length_ratio",
    "failed_checks",
    "reject_reason",
)
#: Extra columns of accepted rows, after the record columns.
LINEAGE_COLUMNS: tuple[str, ...] = ("source_language", "source_query")

#: Accepted rows on disk: the record columns, then the lineage columns.
TRANSLATED_SCHEMA = RECORD_SCHEMA.append(pa.field("source_language", pa.string())).append(
    pa.field("source_query", pa.string())
)

REJECT_SCHEMA = pa.schema(
    [
        pa.field("parent_id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("source_language", pa.string(), nullable=False),
        pa.field("target_language", pa.string(), nullable=False),
        pa.field("source_query", pa.string(), nullable=False),
        pa.field("translation", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("failed_checks", pa.list_(pa.string()), nullable=False),
        pa.field("detected_language", pa.string(), nullable=False),
        pa.field("language_confidence", pa.float64(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
        pa.field("length_ratio", pa.float64(), nullable=False),
    ]
)

_EXAMPLES_PER_PAIR = 3

# --------------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True, eq=False)  # eq would compare DataFrames, which have no single truth value
class Pair:
    """One (task, source language, target language) unit of work and the source rows sampled for it."""

    task: str
    source_language: str
    target_language: str
    available: int  # labelled train rows of the task in the source language
    rows: pd.DataFrame  # PLAN_COLUMNS

    @property
    def key(self) -> str:
        return f"{self.task}:{self.source_language}->{self.target_language}"

    @property
    def planned(self) -> int:
        return len(self.rows)

    @property
    def positive_share(self) -> float:
        return float((self.rows["label"] == 1).mean()) if len(self.rows) else float("nan")


def _sampling_key(seed: int, task: str, source: str, target: str) -> str:
    """The 16-character hash key of a pair's sampling order (Python's hash() is salted per process)."""
    return hashlib.sha256(f"{seed}:{task}:{source}:{target}".encode()).hexdigest()[:16]


def _quotas(counts: pd.Series, n: int) -> dict[int, int]:
    """Split ``n`` over the labels in proportion to ``counts`` (largest remainder, so the quotas sum to ``n``)."""
    exact = counts / counts.sum() * n
    quota = np.floor(exact).astype(int)
    short = n - int(quota.sum())
    for label in (exact - quota).sort_values(ascending=False, kind="stable").index[:short]:
        quota[label] += 1
    return {int(label): int(q) for label, q in quota.items()}


def _check_languages(zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> None:
    for task in sorted(zero_shot):
        for lang in [*zero_shot[task], *cfg.source_languages]:
            if lang not in LANGUAGES:
                raise ValueError(f"task {task}: unknown language code {lang!r}; known: {sorted(LANGUAGES)}")


def _eligible(rows: pd.DataFrame, zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> pd.DataFrame:
    """Labelled training rows of the tasks to translate, in a source language."""
    for col in ("id", "task", "language", "query", "target", "label"):
        if col not in rows.columns:
            raise ValueError(f"plan_translation: training rows lack the column {col!r}")
    keep = (rows["label"] != UNLABELED) & rows["task"].isin(list(zero_shot))
    keep &= rows["language"].isin(cfg.source_languages)
    if "split" in rows.columns:
        keep &= rows["split"] == Split.TRAIN.value
    return rows[keep]


def source_counts(rows: pd.DataFrame, zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> pd.DataFrame:
    """Eligible rows per (task, language, label) of ``rows`` (one block or a whole table), as column ``n``."""
    counts = _eligible(rows, zero_shot, cfg).groupby(["task", "language", "label"]).size()
    return counts.rename("n").reset_index().astype({"task": str, "language": str, "label": "int64", "n": "int64"})


def sample_candidates(rows: pd.DataFrame, zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> pd.DataFrame:
    """For each (task, source, target, label): the ``rows_per_pair`` eligible rows of ``rows`` with the smallest
    sampling keys (a seeded hash of the row id per pair), as PLAN_COLUMNS + ``sample_key``.

    A pair's sample is the rows with the smallest keys, so the sample of a table is the sample of the union of
    its blocks' candidates: the plan streams over the dataset and the driver keeps at most ``rows_per_pair`` rows
    per (pair, label) and block."""
    rows = _eligible(rows, zero_shot, cfg)
    parts = []
    for (task, source), group in rows.groupby(["task", "language"], sort=True):
        for target in dict.fromkeys(zero_shot[task]):
            if target == source:
                continue
            key = pd.util.hash_pandas_object(
                group["id"].astype(str), index=False, hash_key=_sampling_key(cfg.seed, task, source, target)
            )
            picked = group.assign(sample_key=key.to_numpy()).sort_values(["label", "sample_key", "id"], kind="stable")
            picked = picked.groupby("label", sort=False).head(cfg.rows_per_pair)
            parts.append(
                pd.DataFrame(
                    {
                        "parent_id": picked["id"].astype(str).to_numpy(),
                        "task": task,
                        "source_language": source,
                        "target_language": target,
                        "source_query": picked["query"].astype(str).to_numpy(),
                        "target": picked["target"].astype(str).to_numpy(),
                        "label": picked["label"].astype("int8").to_numpy(),
                        "sample_key": picked["sample_key"].to_numpy(),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PLAN_COLUMNS}).assign(
            label=pd.Series(dtype="int8"), sample_key=pd.Series(dtype="uint64")
        )
    return pd.concat(parts, ignore_index=True)


def plan_pairs(
    candidates: pd.DataFrame, counts: pd.DataFrame, zero_shot: dict[str, list[str]], cfg: TranslateConfig
) -> list[Pair]:
    """Pairs (task x source language x zero-shot language) from :func:`sample_candidates` and
    :func:`source_counts` (of a table, or concatenated over its blocks): per pair ``rows_per_pair`` rows (all
    when fewer), stratified by label (largest-remainder quotas), the smallest sampling keys per label; same seed,
    same rows. A source language with no rows for a task is skipped for that task (and logged)."""
    _check_languages(zero_shot, cfg)
    totals: dict[tuple[str, str], dict[int, int]] = {}
    for task, lang, label, n in counts[["task", "language", "label", "n"]].itertuples(index=False):
        per_label = totals.setdefault((str(task), str(lang)), {})
        per_label[int(label)] = per_label.get(int(label), 0) + int(n)
    pairs: list[Pair] = []
    for task in sorted(zero_shot):
        for source in cfg.source_languages:
            by_label = pd.Series(totals.get((task, source), {}), dtype="int64").sort_index()
            available = int(by_label.sum())
            if not available:
                log.warning("translate: task %s has no labelled %s training rows; source skipped", task, source)
                continue
            for target in dict.fromkeys(zero_shot[task]):
                if target == source:
                    continue
                mine = candidates[
                    (candidates["task"] == task)
                    & (candidates["source_language"] == source)
                    & (candidates["target_language"] == target)
                ].sort_values(["label", "sample_key", "parent_id"], kind="stable")
                if cfg.rows_per_pair >= available:
                    sample = mine
                else:
                    quotas = _quotas(by_label, cfg.rows_per_pair)
                    sample = pd.concat([mine[mine["label"] == lab].head(q) for lab, q in quotas.items()])
                sample = sample.sort_values("parent_id", kind="stable")[list(PLAN_COLUMNS)].reset_index(drop=True)
                pairs.append(Pair(task, source, target, available, sample))
    return pairs


def plan_translation(train_df: pd.DataFrame, zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> list[Pair]:
    """:func:`plan_pairs` of a table held in memory. ``train_df`` holds record columns; rows that are not
    labelled training rows are ignored, so the whole ingest output can be passed."""
    _check_languages(zero_shot, cfg)
    return plan_pairs(
        sample_candidates(train_df, zero_shot, cfg), source_counts(train_df, zero_shot, cfg), zero_shot, cfg
    )


def plan_dataset(ds, zero_shot: dict[str, list[str]], cfg: TranslateConfig) -> list[Pair]:
    """:func:`plan_pairs` of a Ray Dataset, streamed: each block gives its counts and sampling candidates, and
    the driver keeps only those (at most ``rows_per_pair`` rows per pair, label and block)."""
    _check_languages(zero_shot, cfg)
    kwargs = {"fn_args": (zero_shot, cfg), "batch_format": "pandas", "batch_size": None}

    def collect(fn) -> list[pd.DataFrame]:
        return list(ds.map_batches(fn, **kwargs).iter_batches(batch_format="pandas", batch_size=None))

    candidates = collect(sample_candidates)
    counts = collect(source_counts)
    empty = sample_candidates(pd.DataFrame(columns=list(_PLAN_INPUT)), zero_shot, cfg)
    return plan_pairs(
        pd.concat([empty, *candidates], ignore_index=True) if candidates else empty,
        pd.concat(counts, ignore_index=True) if counts else source_counts(empty, zero_shot, cfg),
        zero_shot,
        cfg,
    )


def plan_table(pairs: Sequence[Pair]) -> str:
    """The plan as a plain-text table: one line per pair with available and sampled rows and positive share."""
    head = f"{'task':<5}{'source':>7}{'target':>7}{'available':>11}{'sampled':>9}{'pos%':>7}"
    lines = [head]
    for p in pairs:
        lines.append(
            f"{p.task:<5}{p.source_language:>7}{p.target_language:>7}{p.available:>11}{p.planned:>9}"
            f"{100 * p.positive_share:>7.1f}"
        )
    lines.append(f"{'all':<19}{sum(p.available for p in pairs):>11}{sum(p.planned for p in pairs):>9}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------- translate


class TranslateBatch:
    """Ray Data callable class: one translator per actor, built once in ``__init__``.

    A batch may mix language pairs; each pair's *unique* queries are translated once (training data repeats a
    query with several targets) and the outputs are scattered back to the rows as the ``translation`` column.
    """

    def __init__(self, cfg: TranslateConfig, factory: Callable[[TranslateConfig], Translator] = make_translator):
        self.translator = factory(cfg)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        translation = pd.Series("", index=batch.index, dtype=object)
        for (source, target), group in batch.groupby(["source_language", "target_language"], sort=False):
            unique = list(dict.fromkeys(group["source_query"]))
            outputs = self.translator.translate(unique, source, target)
            if len(outputs) != len(unique):
                raise RuntimeError(
                    f"{type(self.translator).__name__} returned {len(outputs)} translations for {len(unique)} "
                    f"texts ({source}->{target})"
                )
            lookup = dict(zip(unique, ("" if o is None else str(o) for o in outputs), strict=True))
            translation[group.index] = group["source_query"].map(lookup)
        batch = batch.copy()
        batch["translation"] = translation
        return batch


def translate_dataset(
    ds,
    cfg: TranslateConfig,
    factory: Callable[[TranslateConfig], Translator] = make_translator,
    engine_udf: type | None = None,
):
    """Add a ``translation`` column to a dataset of planned rows with the configured backend."""
    import ray

    if cfg.backend == "vllm":
        return build_vllm_translator(cfg, keep_columns=PLAN_COLUMNS, engine_udf=engine_udf)(ds)
    return ds.map_batches(
        TranslateBatch,
        fn_constructor_args=(cfg, factory),
        batch_size=cfg.batch_size,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=cfg.concurrency),
        num_cpus=cfg.num_cpus,
        num_gpus=cfg.num_gpus,
    )


# --------------------------------------------------------------------------------------------------- gate

_PUNCT_OR_SPACE = re.compile(r"[\W_]+", re.UNICODE)
_LABEL_LEAK = re.compile(r"\b(?:" + "|".join(sorted(LANGUAGES.values())) + r")\s*:", re.IGNORECASE)


def normalise(text: str) -> str:
    """Unicode NFKC, case-folded, punctuation and runs of space dropped: the form ``copy`` compares."""
    return _PUNCT_OR_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def is_garbage(text: str) -> bool:
    """Line breaks or other control characters, U+FFFD, no letter at all, or prompt labels ("German:")."""
    if any(unicodedata.category(ch) == "Cc" for ch in text) or "\ufffd" in text:
        return True
    if not any(unicodedata.category(ch).startswith("L") for ch in text):
        return True
    return bool(_LABEL_LEAK.search(text))


def length_ratio(source: str, output: str) -> float:
    return len(output.strip()) / max(1, len(source.strip()))


def failed_checks(
    source: str,
    output: str,
    target_language: str,
    detected_language: str,
    language_confidence: float,
    similarity: float,
    cfg: TranslateConfig,
) -> list[str]:
    """Every gate check ``output`` fails, in :data:`CHECKS` order (empty list: accepted)."""
    failed = []
    if not output.strip():
        failed.append("empty")
    elif is_garbage(output):
        failed.append("garbage")
    if normalise(output) == normalise(source):
        failed.append("copy")
    lo, hi = cfg.length_ratio
    if not lo <= length_ratio(source, output) <= hi:
        failed.append("length_ratio")
    if detected_language != target_language or language_confidence < cfg.min_language_confidence:
        failed.append("language")
    if not similarity >= cfg.min_similarity:  # NaN fails too
        failed.append("similarity")
    return failed


class LanguageDetector:
    """lingua, restricted to ecomrel's languages (a detector that may answer "Dutch" would blur the check),
    with models preloaded once: building it costs ~3 s and ~300 MB, detecting a query ~0.3 ms."""

    def __init__(self, languages: Sequence[str] = tuple(LANGUAGES)) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        self._to_lingua = {
            code: Language.from_iso_code_639_1(getattr(IsoCode639_1, to_iso(code).upper())) for code in languages
        }
        self._from_lingua = {lang: code for code, lang in self._to_lingua.items()}
        self.detector = (
            LanguageDetectorBuilder.from_languages(*self._to_lingua.values()).with_preloaded_language_models().build()
        )

    def detect(self, text: str, target: str) -> tuple[str, float]:
        """(most likely ecomrel language or "" for none, confidence that ``text`` is in ``target``)."""
        values = self.detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0:
            return "", 0.0
        want = self._to_lingua[target]
        confidence = next((v.value for v in values if v.language == want), 0.0)
        return self._from_lingua[values[0].language], float(confidence)


class QualityGate:
    """Ray Data callable class: lingua detector and embedding model built once per actor; adds GATE_COLUMNS."""

    def __init__(self, cfg: TranslateConfig, embed_cfg: EmbedConfig):
        self.cfg = cfg
        self.detector = LanguageDetector()
        self.embedder = Embedder(embed_cfg)

    def similarities(self, sources: Sequence[str], outputs: Sequence[str]) -> np.ndarray:
        """Cosine of each (source, output) pair; each unique text is embedded once, both with the query prompt."""
        unique = list(dict.fromkeys([*sources, *outputs]))
        vectors = self.embedder.encode(unique, "query")
        pos = {t: i for i, t in enumerate(unique)}
        s = vectors[[pos[t] for t in sources]]
        o = vectors[[pos[t] for t in outputs]]
        return np.einsum("ij,ij->i", s, o).astype(np.float64)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        sources = batch["source_query"].astype(str).tolist()
        outputs = batch["translation"].fillna("").astype(str).tolist()
        targets = batch["target_language"].tolist()
        detected = [self.detector.detect(o, t) for o, t in zip(outputs, targets, strict=True)]
        sims = self.similarities(sources, outputs)
        failed = [
            failed_checks(s, o, t, d, c, sim, self.cfg)
            for s, o, t, (d, c), sim in zip(sources, outputs, targets, detected, sims, strict=True)
        ]
        batch = batch.copy()
        batch["translation"] = outputs
        batch["detected_language"] = [d for d, _ in detected]
        batch["language_confidence"] = [c for _, c in detected]
        batch["similarity"] = sims
        batch["length_ratio"] = [length_ratio(s, o) for s, o in zip(sources, outputs, strict=True)]
        batch["failed_checks"] = [",".join(f) for f in failed]  # a string: Arrow types an all-empty list column null
        batch["reject_reason"] = [f[0] if f else "" for f in failed]
        return batch


def gate_dataset(ds, cfg: TranslateConfig, embed_cfg: EmbedConfig):
    """Add GATE_COLUMNS on an actor pool sized like the embedding stage (the embedder dominates its cost)."""
    import ray

    return ds.map_batches(
        QualityGate,
        fn_constructor_args=(cfg, embed_cfg),
        batch_size=embed_cfg.batch_size,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=embed_cfg.concurrency),
        num_cpus=embed_cfg.num_cpus,
        num_gpus=embed_cfg.num_gpus,
    )


# --------------------------------------------------------------------------------------------------- stage


def translated_records(accepted: pd.DataFrame) -> pd.DataFrame:
    """Gated rows -> record columns + LINEAGE_COLUMNS, with lineage: the source row's id and query kept."""
    return pd.DataFrame(
        {
            "id": accepted["parent_id"] + "-tr-" + accepted["target_language"],
            "task": accepted["task"],
            "split": Split.TRAIN.value,
            "language": accepted["target_language"],
            "query": accepted["translation"],
            "target": accepted["target"],
            "label": accepted["label"].astype("int8"),
            "source": Source.TRANSLATED.value,
            "parent_id": accepted["parent_id"],
            "source_language": accepted["source_language"],
            "source_query": accepted["source_query"],
        },
        columns=[*RECORD_COLUMNS, *LINEAGE_COLUMNS],
    )


def _checks(joined: str) -> list[str]:
    """The ``failed_checks`` column (comma-joined in the dataset) as a list."""
    return joined.split(",") if joined else []


def _accepted(batch: pd.DataFrame) -> pd.DataFrame:
    return translated_records(batch[batch["reject_reason"] == ""])


def _rejects(batch: pd.DataFrame) -> pa.Table:
    """Rejected rows of a gated batch as REJECT_SCHEMA (``failed_checks`` back to a list)."""
    frame = batch[batch["reject_reason"] != ""].rename(columns={"reject_reason": "reason"})
    columns = {col: frame[col].tolist() for col in REJECT_SCHEMA.names}
    columns["failed_checks"] = [_checks(f) for f in columns["failed_checks"]]
    return pa.Table.from_pydict(columns, schema=REJECT_SCHEMA)


def _example(row: pd.Series) -> dict:
    return {
        "source": row["source_query"],
        "translation": row["translation"],
        "reason": row["reject_reason"],
        "failed_checks": _checks(row["failed_checks"]),
        "language_confidence": round(float(row["language_confidence"]), 3),
        "similarity": round(float(row["similarity"]), 3),
    }


def summarize(gated: pd.DataFrame, pairs: Sequence[Pair]) -> dict:
    """Counts for the manifest and the report.

    ``planned`` rows went to the translator, ``produced`` came back non-empty, ``accepted`` passed the gate and
    ``rejected`` did not (``planned == accepted + rejected``); ``rejected_by_reason`` counts first failing checks,
    ``failing_checks`` every failing check; ``pairs`` has the same per (task, source, target), ``examples`` a few
    accepted and rejected rows per pair.
    """
    accepted = gated["reject_reason"] == ""
    per_pair, examples = {}, {}
    for p in pairs:
        rows = gated[
            (gated["task"] == p.task)
            & (gated["source_language"] == p.source_language)
            & (gated["target_language"] == p.target_language)
        ].sort_values("parent_id", kind="stable")
        ok = rows["reject_reason"] == ""
        per_pair[p.key] = {
            "task": p.task,
            "source": p.source_language,
            "target": p.target_language,
            "available": p.available,
            "planned": p.planned,
            "accepted": int(ok.sum()),
            "rejected": int((~ok).sum()),
            "acceptance": round(float(ok.mean()), 4) if len(rows) else None,
            "positive_share_planned": round(p.positive_share, 4) if p.planned else None,
            "positive_share_accepted": round(float((rows.loc[ok, "label"] == 1).mean()), 4) if ok.any() else None,
            "rejected_by_reason": {r: int(n) for r, n in rows.loc[~ok, "reject_reason"].value_counts().items()},
        }
        examples[p.key] = {
            "accepted": [_example(r) for _, r in rows[ok].head(_EXAMPLES_PER_PAIR).iterrows()],
            "rejected": [_example(r) for _, r in rows[~ok].head(_EXAMPLES_PER_PAIR).iterrows()],
        }
    failing = {c: int(sum(c in _checks(f) for f in gated["failed_checks"])) for c in CHECKS}
    return {
        "planned": int(len(gated)),
        "produced": int((gated["translation"].str.strip() != "").sum()),
        "accepted": int(accepted.sum()),
        "rejected": int((~accepted).sum()),
        "rejected_by_reason": {r: int(n) for r, n in gated.loc[~accepted, "reject_reason"].value_counts().items()},
        "failing_checks": failing,
        "pairs": per_pair,
        "examples": examples,
    }


def _empty_gated() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in (*PLAN_COLUMNS, "translation", *GATE_COLUMNS)})
    return frame.astype({"label": "int8", "language_confidence": float, "similarity": float, "length_ratio": float})


def translate_augment(
    train_dir: Path,
    zero_shot: dict[str, list[str]],
    out_dir: Path,
    cfg: TranslateConfig,
    embed_cfg: EmbedConfig,
    *,
    factory: Callable[[TranslateConfig], Translator] = make_translator,
    engine_udf: type | None = None,
) -> dict:
    """Plan, translate and gate; write ``out_dir/data/`` (accepted records) and ``out_dir/rejects/``.

    Returns the counts of :func:`summarize` plus the plan table and timings. ``factory`` (in-process backends)
    and ``engine_udf`` (vllm) are the injection points for tests.
    """
    import ray

    out_dir = Path(out_dir)
    start = time.perf_counter()
    pairs = plan_dataset(read_dataset(train_dir, columns=list(_PLAN_INPUT)), zero_shot, cfg)
    table = plan_table(pairs)
    log.info("translation plan:\n%s", table)
    plan = pd.concat([p.rows for p in pairs], ignore_index=True) if pairs else pd.DataFrame()

    if plan.empty:
        gated_ds = ray.data.from_pandas(_empty_gated())
    else:
        blocks = max(1, min(math.ceil(len(plan) / cfg.batch_size), cfg.concurrency * 8))
        # from_arrow, not from_pandas: Ray 2.60's from_pandas(override_num_blocks=...) breaks on pandas 3.
        ds = ray.data.from_arrow(pa.Table.from_pandas(plan, preserve_index=False), override_num_blocks=blocks)
        gated_ds = gate_dataset(translate_dataset(ds, cfg, factory, engine_udf), cfg, embed_cfg)
    gated_ds = gated_ds.materialize()  # translated and gated once, then written twice and summarised
    write_dataset(gated_ds.map_batches(_accepted, batch_format="pandas"), out_dir / "data", TRANSLATED_SCHEMA)
    write_dataset(gated_ds.map_batches(_rejects, batch_format="pandas"), out_dir / "rejects", REJECT_SCHEMA)
    # The summary's table is as large as the plan (rows_per_pair x pairs, set by the config), not the data.
    gated = gated_ds.drop_columns(["target"]).to_pandas() if len(plan) else _empty_gated()
    if len(gated) != len(plan):
        raise RuntimeError(f"translate: {len(plan)} rows planned but {len(gated)} came back from translate + gate")

    summary = summarize(gated, pairs)
    if summary["planned"] != summary["accepted"] + summary["rejected"]:
        raise AssertionError("translate: planned != accepted + rejected")
    wall = time.perf_counter() - start
    summary.update(
        plan_table=table,
        wall_time_s=round(wall, 3),
        rows_per_s=round(summary["planned"] / wall, 3) if wall > 0 else None,
        backend=cfg.backend,
        model=cfg.model,
    )
    return summary


def translate_stage(
    cfg: TranslateConfig,
    embed_cfg: EmbedConfig | None,
    tasks: Sequence[str],
    ingested: Path,
    audit: Path,
    out: Path,
    force: bool = False,
) -> StageRun:
    """The ``translate`` stage: high-resource training queries of ``tasks`` translated into each task's zero-shot
    languages (from the audit), gated for quality. Each pair's outcomes are counted in
    ``ecomrel_translations_total`` under the run's name (the folder ``out`` is in)."""

    def body(m: Manifest) -> None:
        zero_shot = {t: v for t, v in load_audit(audit)["zero_shot"].items() if t in tasks}
        report = translate_augment(ingested, zero_shot, out, cfg, embed_cfg)
        m.input_rows = report["planned"]
        m.output_rows = report["accepted"]
        m.quarantined_rows = report["planned"] - report["accepted"]
        m.quarantined_by_reason = dict(report.get("rejected_by_reason", {}))
        m.extra = report
        for p in report["pairs"].values():
            telemetry.record_translations(
                out.parent.name, p["source"], p["target"], p["accepted"], p["rejected_by_reason"]
            )

    digest = f"{cfg.digest()}-{embed_cfg.digest() if embed_cfg else ''}"
    return run_stage("translate", out, digest, [ingested, audit], body, force)


def report_section(out: Path) -> tuple[str, str]:
    """The report's "Translation acceptance by language pair" section, from the stage's manifest."""
    extra = read_manifest(out).extra
    lines = ["| task | pair | planned | accepted | acceptance | top rejection |", "|---|---|---|---|---|---|"]
    for p in extra.get("pairs", {}).values():
        top = max(p["rejected_by_reason"].items(), key=lambda kv: kv[1])[0] if p["rejected_by_reason"] else "-"
        acc = f"{p['acceptance']:.1%}" if p["acceptance"] is not None else "-"
        pair = f"{p['source']}→{p['target']}"
        lines.append(f"| {p['task']} | {pair} | {p['planned']} | {p['accepted']} | {acc} | {top} |")
    lines.append(f"\nRejected by reason: {extra.get('rejected_by_reason', {})}")
    return "Translation acceptance by language pair", "\n".join(lines)
