"""Read and write ecomrel datasets (Parquet folders with ``ecomrel.schema.RECORD_SCHEMA`` columns).

Stages stream: :func:`read_dataset` opens a folder as a Ray Dataset (``ray.data.read_parquet``) and
:func:`write_dataset` writes one with ``Dataset.write_parquet`` (one file per block), so no stage holds a table in
its driver. Small consumers (calibration, the report, tests) read a whole folder into pandas with
:func:`read_records`; :func:`write_records` writes a pandas frame the driver already holds.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import RECORD_COLUMNS, RECORD_SCHEMA

if TYPE_CHECKING:
    import ray.data


def dataset_path(path: str | Path) -> Path:
    """A stage folder (``<stage>/data``), a data folder or a Parquet file -> the Parquet path to read."""
    path = Path(path)
    if path.is_dir() and (path / "data").is_dir():
        path = path / "data"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no dataset here")
    return path


def read_records(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A whole dataset (every Parquet file of its folder) as one pandas frame: for small consumers only."""
    return pq.read_table(dataset_path(path), columns=columns).to_pandas()


def read_dataset(path: str | Path, columns: list[str] | None = None) -> ray.data.Dataset:
    """A dataset folder as a lazy Ray Dataset (read in parallel, streamed; nothing is read here)."""
    import ray.data

    ds = ray.data.read_parquet(str(dataset_path(path)))
    return ds if columns is None else ds.select_columns(columns)  # Ray Data pushes the projection into the read


def _cast(batch: pa.Table, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [batch[name].cast(f.type) for name, f in zip(schema.names, schema, strict=True)], schema=schema
    )


def write_dataset(ds: ray.data.Dataset, data_dir: str | Path, schema: pa.Schema = RECORD_SCHEMA) -> Path:
    """Write ``ds`` with ``Dataset.write_parquet`` into ``data_dir`` (replaced), its columns cast to ``schema``.

    Written blocks become files as they are produced, so the dataset never passes through the driver. A dataset
    with no rows writes one empty file with ``schema``: readers still see the columns.
    """
    data_dir = Path(data_dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    ds.map_batches(_cast, fn_kwargs={"schema": schema}, batch_format="pyarrow", batch_size=None).write_parquet(
        str(data_dir)
    )
    if not any(data_dir.glob("*.parquet")):
        data_dir.mkdir(parents=True, exist_ok=True)
        pq.write_table(schema.empty_table(), data_dir / "empty.parquet")
    return data_dir


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
