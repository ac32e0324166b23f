"""NDJSON (JSON lines): one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import IO, Any

import polars as pl

from dynio.engine.io.formats.base import Capabilities, Format, ScanHints
from dynio.engine.io.formats.text import head

__all__ = ["NDJSON", "bad_json_line", "scan_ndjson"]


def scan_ndjson(paths: Sequence[str], options: Mapping[str, Any], hints: ScanHints) -> pl.LazyFrame:
    """A LazyFrame over JSON-lines files (an empty frame of the schema when all are blank)."""
    kwargs: dict[str, Any] = {}
    for name in ("infer_schema_length", "ignore_errors", "n_rows"):
        if name in options:
            kwargs[name] = options[name]
    if "nrows" in options:
        kwargs["n_rows"] = int(options["nrows"])
    if hints.storage_options:
        kwargs["storage_options"] = dict(hints.storage_options)
    local = [p for p in paths if "://" not in p]
    if hints.dtypes and len(local) == len(paths) and all(_blank(p) for p in paths):
        # nothing to infer types from: an empty frame of the schema
        return pl.LazyFrame(schema=dict(hints.dtypes))
    # scan_ndjson has no glob=False: each listed path is escaped to match only itself
    return pl.scan_ndjson([_literal(p) for p in paths], **kwargs)


def _literal(path: str) -> str:
    """A glob pattern matching only the local ``path`` (its ``[``, ``*`` and ``?`` as
    letters); a URL stays as it is (``?`` starts its query)."""
    if "://" in path:
        return path
    return "".join(f"[{c}]" if c in "[*?" else c for c in path)


def _blank(path: str) -> bool:
    with open(path, "rb") as fh:
        return not fh.read(4096).strip()


def _write_ndjson(df: pl.DataFrame, out: IO[bytes], options: Mapping[str, Any]) -> None:
    df.write_ndjson(out)


def bad_json_line(path: str) -> str | None:
    """The first line of a JSON-lines file that is not one JSON value, as a sentence."""
    for number, line in enumerate(head(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
            return f"line {number} is not valid JSON: {reason}"
    return None


NDJSON = Format(
    "ndjson",
    (".ndjson", ".jsonl"),
    Capabilities(
        text=True,
        native_remote=True,
        layouts=frozenset({"file", "dataset"}),
        appendable=True,
        line_delimited=True,
        read_options=frozenset(
            {"infer_schema_length", "ignore_errors", "n_rows", "nrows", "lines"}
        ),
        write_options=frozenset({"lines"}),
        duckdb_reader="read_json",
    ),
    scan_ndjson,
    _write_ndjson,
    aliases=("jsonl", "jsonlines", "json_lines"),
    sink=lambda lf, path, o: lf.sink_ndjson(path),
    explain=lambda path, options, reason: bad_json_line(path),
)
