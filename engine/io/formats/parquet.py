"""Parquet: a binary format with a footer holding the schema and per-row-group statistics."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO, Any

import polars as pl

from dynio.engine.io.formats.base import Capabilities, Format, ScanHints, hive_paths, pick

__all__ = ["PARQUET", "PYARROW_PARQUET_WRITE", "parquet_write_kwargs"]


def _scan_parquet(
    paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints
) -> pl.LazyFrame:
    kwargs: dict[str, Any] = {}
    for name in ("hive_partitioning", "use_statistics", "n_rows", "parallel"):
        if name in options:
            kwargs[name] = options[name]
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    # files written at different times may lack a column: it reads as null (drift is checked
    # by the planner against the schema)
    kwargs["missing_columns"] = "insert" if len(paths) > 1 else "raise"
    kwargs["extra_columns"] = "ignore"
    if "hive_partitioning" not in kwargs and hive_paths(paths):
        kwargs["hive_partitioning"] = True
    return pl.scan_parquet(list(paths), glob=False, **kwargs)


# pyarrow.parquet.write_table options pandas pipelines pass (dynamicio hands them to pyarrow);
# when one is present the frame is written through pyarrow, which honours them.
PYARROW_PARQUET_WRITE = frozenset(
    {
        "use_deprecated_int96_timestamps",
        "coerce_timestamps",
        "allow_truncated_timestamps",
        "version",
        "use_dictionary",
        "write_statistics",
        "data_page_version",
    }
)


def _write_parquet(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    compression = pick(options, "compression")
    if compression is None and "compression" in options:
        compression = "uncompressed"  # pandas' compression=None
    if compression == "none":
        compression = "uncompressed"
    if PYARROW_PARQUET_WRITE & set(options):
        import pyarrow.parquet as pq

        pa_kwargs: dict[str, Any] = {k: options[k] for k in PYARROW_PARQUET_WRITE if k in options}
        for name in ("row_group_size", "data_page_size", "compression_level"):
            if name in options:
                pa_kwargs[name] = options[name]
        if compression is not None:
            pa_kwargs["compression"] = "none" if compression == "uncompressed" else compression
        pq.write_table(df.to_arrow(), out, **pa_kwargs)
        return
    df.write_parquet(out, **parquet_write_kwargs(options))


def parquet_write_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """Polars' ``write_parquet``/``sink_parquet`` arguments for a resource's parquet options
    (those only pyarrow's writer takes are left out: see ``PYARROW_PARQUET_WRITE``)."""
    compression = pick(options, "compression")
    if (compression is None and "compression" in options) or compression == "none":
        compression = "uncompressed"  # pandas' compression=None
    # snappy, as pandas and pyarrow write by default: a third of the time of Polars' zstd
    kwargs: dict[str, Any] = {"compression": compression or "snappy"}
    for name in ("compression_level", "row_group_size", "statistics", "data_page_size"):
        if name in options:
            kwargs[name] = options[name]
    return kwargs


def _row_groups(path: str) -> list[tuple[int, dict[str, tuple[Any, Any]]]]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    out = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats: dict[str, tuple[Any, Any]] = {}
        for j in range(group.num_columns):
            col = group.column(j)
            s = col.statistics
            if s is not None and s.has_min_max:
                stats[col.path_in_schema] = (s.min, s.max)
        out.append((group.num_rows, stats))
    return out


def _footer_schema(path: str) -> pl.Schema:
    """A local file's schema from its footer alone (no hive partition columns)."""
    return pl.Schema(pl.read_parquet_schema(path))


def _damage(path: str, options: Mapping[str, Any], reason: str) -> str | None:
    """Whether a local file is not parquet, truncated or corrupted, as a sentence."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        start = fh.read(4)
        fh.seek(max(size - 4, 0))
        end = fh.read(4)
    if start != b"PAR1":
        return "not a parquet file: it does not start with the PAR1 marker parquet files begin with"
    if end != b"PAR1":
        return (
            "the parquet file is truncated: it starts as parquet but lacks the footer (PAR1)"
            " a complete file ends with"
        )
    lowered = reason.lower()
    if any(w in lowered for w in ("out of specification", "thrift", "decompress", "snappy")):
        return f"the parquet file is corrupted: its pages or their headers do not decode ({reason})"
    return None


PARQUET = Format(
    "parquet",
    (".parquet", ".pq", ".parq"),
    Capabilities(
        footer=True,
        statistics=True,
        columns_by_name=True,
        native_remote=True,
        layouts=frozenset({"file", "dataset", "hive"}),
        read_options=frozenset({"hive_partitioning", "use_statistics", "n_rows", "parallel"}),
        write_options=frozenset(
            {
                "compression",
                "compression_level",
                "row_group_size",
                "statistics",
                "data_page_size",
                "partition_cols",
            }
        )
        | PYARROW_PARQUET_WRITE,
        # options only pyarrow's writer takes, and partitioned writes, are not streamed
        sink_refuses=PYARROW_PARQUET_WRITE | {"partition_cols"},
        duckdb_reader="read_parquet",
    ),
    _scan_parquet,
    _write_parquet,
    sink=lambda lf, path, o: lf.sink_parquet(path, **parquet_write_kwargs(o)),
    explain=_damage,
    magic=b"PAR1",
    footer_schema=_footer_schema,
    row_groups=_row_groups,
)
