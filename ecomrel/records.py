"""Read and write ecomrel datasets (Parquet folders with ``ecomrel.schema.RECORD_SCHEMA`` columns)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import RECORD_COLUMNS, RECORD_SCHEMA


def dataset_path(path: str | Path) -> Path:
    """A stage folder (``<stage>/data``), a data folder or a Parquet file -> the Parquet path to read."""
    path = Path(path)
    if path.is_dir() and (path / "data").is_dir():
        path = path / "data"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no dataset here")
    return path


def read_records(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pq.read_table(dataset_path(path), columns=columns).to_pandas()


def write_records(
    df: pd.DataFrame, data_dir: str | Path, name: str = "records.parquet", extra_columns: bool = False
) -> Path:
    """Write ``df`` as one Parquet file in ``data_dir`` (replacing earlier Parquet files there).

    Only the record columns are kept unless ``extra_columns``; record columns always get the canonical types.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob("*.parquet"):
        old.unlink()
    missing = [c for c in RECORD_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write records to {data_dir}: missing columns {missing}")
    extras = [c for c in df.columns if c not in RECORD_COLUMNS] if extra_columns else []
    base = pa.Table.from_pandas(df[RECORD_COLUMNS], schema=RECORD_SCHEMA, preserve_index=False)
    for col in extras:
        base = base.append_column(col, pa.array(df[col].tolist()))
    path = data_dir / name
    pq.write_table(base, path)
    return path
