"""Row counts of a Parquet dataset folder as a Ray Data map-reduce without a shuffle.

Each block is counted where it lives and only the small partial tables meet in the driver (Ray's hash aggregate
spins up hundreds of partitions, which costs more than the counting on small clusters). The driver never holds
the table itself, only one row per distinct key.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq


def parquet_files(path: str | Path) -> list[Path]:
    """The Parquet files under ``path`` (a file, or a folder searched recursively, e.g. hive partitions)."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(path.rglob("*.parquet")) if path.is_dir() else []


def stored_rows(path: str | Path) -> int:
    """Rows of a Parquet dataset from its files' footers alone."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(path))


def _partial(batch: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return batch.groupby(keys, sort=False, dropna=False).size().reset_index(name="rows")


def count_by(path: str | Path, keys: list[str]) -> pd.DataFrame:
    """Rows per distinct value of ``keys`` (columns ``keys + ["rows"]``); empty for a folder without Parquet."""
    import ray.data

    files = parquet_files(path)
    if not files or stored_rows(path) == 0:
        return pd.DataFrame({**{k: [] for k in keys}, "rows": pd.Series([], dtype="int64")})
    ds = ray.data.read_parquet([str(f) for f in files]).select_columns(keys)  # pushed into the read
    partial = ds.map_batches(_partial, fn_kwargs={"keys": keys}, batch_format="pandas", batch_size=None).to_pandas()
    return partial.groupby(keys, sort=True, dropna=False)["rows"].sum().reset_index()
