"""Parquet: a binary format with a footer holding the schema and per-row-group statistics."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

import polars as pl

from dynio.engine.io.formats.base import Capabilities, Format, ScanHints, hive_paths, pick

__all__ = [
    "PARQUET",
    "PYARROW_PARQUET_WRITE",
    "VERIFY_CHECKSUM",
    "WRITE_CHECKSUM",
    "parquet_write_kwargs",
    "pyarrow_write_kwargs",
    "write_parquet",
]


# pyarrow's own option names: pages carry a CRC-32 when written (on by default) and are checked
# when read (off by default: it takes the pyarrow reader, see docs/guarantees.md for the cost)
WRITE_CHECKSUM = "write_page_checksum"
VERIFY_CHECKSUM = "page_checksum_verification"
# Polars' default row group (512² rows): files keep the shape Polars' writer gave them
_ROW_GROUP = 512**2
_DICTIONARY_BYTES = 64 * 1024


def _scan_parquet(
    paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints
) -> pl.LazyFrame:
    if options.get(VERIFY_CHECKSUM):
        return _scan_verified(paths, options)
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


def _scan_verified(paths: Sequence[str], options: Mapping[str, Any]) -> pl.LazyFrame:
    """A scan through pyarrow's dataset, which checks each page's CRC-32 as it reads the page
    (Polars' reader does not): a damaged page is an ``OSError`` naming the page, never values.

    Projection and filters are pushed into the dataset scan. Local files only: an object
    store fetches the objects first (``local_only_options``).
    """
    import pyarrow.dataset as ds

    remote = [p for p in paths if "://" in p]
    if remote:
        raise ValueError(f"{VERIFY_CHECKSUM} reads local files only, not {remote[0]}")
    scan_options = ds.ParquetFragmentScanOptions(page_checksum_verification=True)
    hive = options.get("hive_partitioning")
    dataset = ds.dataset(
        list(paths),
        format=ds.ParquetFileFormat(default_fragment_scan_options=scan_options),
        partitioning="hive" if (hive_paths(paths) if hive is None else hive) else None,
    )
    frame = pl.scan_pyarrow_dataset(dataset)
    n_rows = options.get("n_rows")
    return frame.head(int(n_rows)) if n_rows is not None else frame


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


@contextlib.contextmanager
def _pyarrow_errors() -> Iterator[None]:
    """pyarrow's errors as the ``OSError``/``ValueError`` writers raise (an unknown codec is a
    bare ``ArrowException``, an unsupported type a ``NotImplementedError``)."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowException, NotImplementedError, TypeError) as exc:
        if isinstance(exc, OSError | ValueError):
            raise
        raise ValueError(str(exc)) from exc


def write_parquet(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    """Write ``df`` as dynio writes parquet: through pyarrow with page checksums, unless
    ``write_page_checksum: false`` (then Polars' writer, unless pyarrow-only options are set)."""
    if options.get(WRITE_CHECKSUM, True) or PYARROW_PARQUET_WRITE & set(options):
        import pyarrow.parquet as pq

        with _pyarrow_errors():
            pq.write_table(_to_arrow(df), out, **pyarrow_write_kwargs(options))
        return
    df.write_parquet(out, **parquet_write_kwargs(options))


def _to_arrow(df: pl.DataFrame) -> Any:
    """The frame as Arrow for pyarrow's writer; Python objects are refused (Arrow would carry
    their addresses as bytes), as Polars' writer refuses them."""
    objects = [name for name, dtype in df.schema.items() if dtype == pl.Object]
    if objects:
        raise ValueError(f"cannot write Python objects (column {objects[0]!r}) to parquet")
    return df.to_arrow()


def pyarrow_write_kwargs(options: Mapping[str, Any]) -> dict[str, Any]:
    """pyarrow's ``write_table``/``ParquetWriter`` arguments for a resource's parquet options:
    pages with checksums unless ``write_page_checksum: false``."""
    kwargs: dict[str, Any] = {k: options[k] for k in PYARROW_PARQUET_WRITE if k in options}
    for name in ("row_group_size", "data_page_size", "compression_level"):
        if name in options:
            kwargs[name] = options[name]
    if not PYARROW_PARQUET_WRITE & set(options):
        kwargs.setdefault("row_group_size", _ROW_GROUP)
        # a column whose dictionary outgrows this is written plain: pyarrow's 1 MiB default
        # spends longer on high-cardinality text than Polars' whole write (measured in K4)
        kwargs["dictionary_pagesize_limit"] = _DICTIONARY_BYTES
        if "statistics" in options:  # Polars' name: a bool, or "full"
            kwargs["write_statistics"] = options["statistics"] is not False
    compression = pick(options, "compression")
    if (compression is None and "compression" in options) or compression == "uncompressed":
        compression = "none"  # pandas' compression=None
    kwargs["compression"] = compression or "snappy"
    kwargs[WRITE_CHECKSUM] = bool(options.get(WRITE_CHECKSUM, True))
    return kwargs


def _sink_parquet(lazy: pl.LazyFrame, path: str, options: Mapping[str, Any]) -> None:
    """Stream ``lazy`` into a parquet file, a row group per batch; through pyarrow's writer
    when pages carry checksums (Polars' ``sink_parquet`` writes none)."""
    if not options.get(WRITE_CHECKSUM, True):
        lazy.sink_parquet(path, **parquet_write_kwargs(options))
        return
    import pyarrow.parquet as pq

    kwargs = pyarrow_write_kwargs(options)
    rows = int(kwargs.pop("row_group_size"))
    writer: pq.ParquetWriter | None = None
    with _pyarrow_errors(), contextlib.ExitStack() as stack:
        for batch in lazy.collect_batches(chunk_size=rows):
            table = _to_arrow(batch)
            if writer is None:
                writer = stack.enter_context(pq.ParquetWriter(path, table.schema, **kwargs))
            writer.write_table(table.cast(writer.schema), row_group_size=rows)
        if writer is None:  # no rows: a file with the frame's columns
            empty = pl.DataFrame(schema=lazy.collect_schema()).to_arrow()
            with pq.ParquetWriter(path, empty.schema, **kwargs) as only:
                only.write_table(empty)


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
    if "checksum" in lowered:
        return f"the parquet file is corrupted: a page does not match its checksum ({reason})"
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
        # read_path: the reader a read into pandas takes (dynio.engine.read_path)
        read_options=frozenset(
            {"hive_partitioning", "use_statistics", "n_rows", "parallel", VERIFY_CHECKSUM}
            | {"read_path"}
        ),
        write_options=frozenset(
            {
                "compression",
                "compression_level",
                "row_group_size",
                "statistics",
                "data_page_size",
                "partition_cols",
                WRITE_CHECKSUM,
            }
        )
        | PYARROW_PARQUET_WRITE,
        # options only pyarrow's writer takes, and partitioned writes, are not streamed
        sink_refuses=PYARROW_PARQUET_WRITE | {"partition_cols"},
        duckdb_reader="read_parquet",
        local_only_options=frozenset({VERIFY_CHECKSUM}),
    ),
    _scan_parquet,
    write_parquet,
    sink=_sink_parquet,
    explain=_damage,
    magic=b"PAR1",
    footer_schema=_footer_schema,
    row_groups=_row_groups,
)
