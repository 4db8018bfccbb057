"""The record contract shared by every stage.

On disk (CIKM AnalytiCup 2025) a row is a JSON object with ``id, task, language, origin_query`` and
``category_path`` (QC) or ``item_title`` (QI), plus ``label`` (0/1) in train. Inside ecomrel every dataset is
Parquet with the normalised columns below, so each stage reads one shape whatever the task.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pyarrow as pa


class Task(StrEnum):
    QC = "QC"  # query <-> category path
    QI = "QI"  # query <-> item title


class Split(StrEnum):
    TRAIN = "train"
    DEV = "dev"
    TEST = "test"


class Source(StrEnum):
    """Lineage of a row: where it came from."""

    ORIGINAL = "original"
    TRANSLATED = "translated"
    HARD_NEGATIVE = "hard_negative"
    EASY_NEGATIVE = "easy_negative"
    RANDOM_NEGATIVE = "random_negative"
    RELABELED = "relabeled"


#: The field holding the target text in the CIKM files, per task.
TARGET_FIELD: dict[Task, str] = {Task.QC: "category_path", Task.QI: "item_title"}
QUERY_FIELD = "origin_query"

#: ``label`` value of rows without a label (dev/test without answers).
UNLABELED = -1

#: Normalised columns of every ecomrel dataset (Parquet).
RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("language", pa.string(), nullable=False),
        pa.field("query", pa.string(), nullable=False),
        pa.field("target", pa.string(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),  # 0, 1, or UNLABELED
        pa.field("source", pa.string(), nullable=False),
        pa.field("parent_id", pa.string(), nullable=True),  # the row this one was derived from
    ]
)
RECORD_COLUMNS: list[str] = RECORD_SCHEMA.names

# A category level may itself contain ", " ("automobiles, parts & accessories"): split on a comma that is
# not followed by a space.
_LEVEL_SEP = re.compile(r",(?! )")


def split_category_path(path: str) -> list[str]:
    """``"a,b, c,d"`` -> ``["a", "b, c", "d"]``."""
    return [level.strip() for level in _LEVEL_SEP.split(path) if level.strip()]


def join_category_path(levels: list[str]) -> str:
    return ",".join(levels)


def top_level(path: str) -> str:
    levels = split_category_path(path)
    return levels[0] if levels else ""
