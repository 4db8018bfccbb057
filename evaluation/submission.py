"""CIKM AnalytiCup 2025 submission files: ``submit_QC.txt`` and ``submit_QI.txt``.

JSON Lines, one object per test row: the original row fields (``id, language, origin_query`` and
``category_path`` or ``item_title``) plus ``prediction`` 0/1 = P(yes) >= the calibrated threshold. Ids go back
as integers when they are all digits (as the competition files spell them), else as strings. Rows are written in
id order, since batch scoring does not keep file order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ecomrel.artifacts import Thresholds
from ecomrel.schema import QUERY_FIELD, TARGET_FIELD, Split, Task

SUBMISSION_FILES = {task.value: f"submit_{task.value}.txt" for task in Task}
_COLUMNS = ("id", "task", "language", "query", "target")


def write_submissions(
    scored_test: pd.DataFrame,
    thresholds: Thresholds,
    out_dir: str | Path,
    unscored: pd.DataFrame | None = None,
    unscored_prediction: int = 1,
) -> dict[str, Path]:
    """One ``submit_<task>.txt`` per task present; returns task -> path.

    ``unscored``: test rows that could not be scored (quarantined, e.g. empty titles) but still need a line;
    they get ``unscored_prediction`` (default 1: with mostly-relevant pairs, "relevant" is the F1-safer guess).
    """
    for col in (*_COLUMNS, "p_yes"):
        if col not in scored_test.columns:
            raise ValueError(f"scored test rows lack column {col!r}; have {list(scored_test.columns)}")
    rows = scored_test[list(_COLUMNS)].copy()
    missing = scored_test["p_yes"].isna()
    if missing.any():
        raise ValueError(f"test row id={scored_test[missing]['id'].iloc[0]!r}: p_yes is missing")
    rows["prediction"] = [
        int(p >= thresholds.threshold(t, lang))
        for p, t, lang in zip(scored_test["p_yes"], scored_test["task"], scored_test["language"], strict=True)
    ]
    if unscored is not None and len(unscored):
        if unscored_prediction not in (0, 1):
            raise ValueError(f"unscored_prediction must be 0 or 1, got {unscored_prediction!r}")
        extra = unscored[list(_COLUMNS)].copy()
        extra["prediction"] = unscored_prediction
        rows = pd.concat([rows, extra], ignore_index=True)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for task, t_rows in rows.groupby("task", sort=True):
        task = Task(task)
        dup = t_rows["id"].duplicated()
        if dup.any():
            raise ValueError(f"task {task.value}: id {t_rows[dup]['id'].iloc[0]!r} appears more than once")
        ids = t_rows["id"].astype(str)
        numeric = bool(ids.str.fullmatch(r"\d+").all())
        t_rows = t_rows.assign(_key=ids.map(int) if numeric else ids).sort_values("_key", kind="stable")
        path = out_dir / SUBMISSION_FILES[task.value]
        with path.open("w", encoding="utf-8") as fh:
            for r in t_rows.itertuples(index=False):
                record = {
                    "id": int(r.id) if numeric else str(r.id),
                    "language": r.language,
                    QUERY_FIELD: r.query,
                    TARGET_FIELD[task]: r.target,
                    "prediction": int(r.prediction),
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        paths[task.value] = path
    return paths


def read_submission(path: str | Path) -> list[dict]:
    """The records of a submission file, each checked for a 0/1 ``prediction`` (errors name file and line)."""
    path = Path(path)
    records = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            rec = json.loads(line)
            pred = rec.get("prediction")
            if isinstance(pred, bool) or pred not in (0, 1):
                raise ValueError(f"{path}:{n}: prediction {pred!r} is not 0 or 1")
            records.append(rec)
    return records


def unscored_test_rows(ingested: Path) -> pd.DataFrame:
    """Test rows the ingest stage quarantined that still carry an id: a submission needs a line for them too.

    Reads the ingest stage's ``quarantine/`` (Parquet: each raw line with its file's split and task); only the test
    rows are loaded."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pds

    qdir = ingested / "quarantine"
    quarantined = (
        pds.dataset(qdir, format="parquet").to_table(
            columns=["task", "raw"], filter=pc.field("split") == Split.TEST.value
        )
        if qdir.is_dir() and any(qdir.glob("*.parquet"))
        else None
    )
    out = []
    for q in quarantined.to_pylist() if quarantined is not None else []:
        try:
            raw = json.loads(q["raw"])
        except ValueError:
            continue
        if isinstance(raw, dict) and raw.get("id") is not None:
            task = Task(q["task"])
            out.append(
                {
                    "id": str(raw["id"]),
                    "task": task.value,
                    "language": str(raw.get("language", "")),
                    "query": str(raw.get(QUERY_FIELD) or ""),
                    "target": str(raw.get(TARGET_FIELD[task]) or ""),
                }
            )
    return pd.DataFrame(out, columns=list(_COLUMNS))
