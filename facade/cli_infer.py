"""``dynio schema infer``: schema YAML from data files, with hints where the input is unclear."""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import polars as pl
import yaml

from dynio.cli import EXIT_OK, UsageError
from dynio.engine.errors import DynioError, ReadError
from dynio.engine.infer import infer_schema
from dynio.engine.io.formats import (
    Format,
    ScanHints,
    format_for,
    format_names,
    infer_format,
    looks_like,
)
from dynio.engine.problems import unknown_names

__all__ = ["infer"]


def _files(text: str) -> list[str]:
    if any(c in text for c in "*?["):
        return sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if Path(text).is_dir():
        return sorted(str(p) for p in Path(text).rglob("*") if p.is_file())
    if Path(text).is_file():
        return [text]
    raise ReadError("no such file or folder: it does not exist", file=text)


def _format(text: str, files: list[str], declared: str | None) -> Format:
    if declared:
        fmt = format_for(declared)
        if fmt is None:
            raise UsageError(unknown_names("format", [declared], format_names()))
        return fmt
    guesses = {f.name: f for f in (infer_format(p) for p in files) if f is not None}
    if len(guesses) != 1:
        what = "no data files" if not guesses else f"several formats {sorted(guesses)}"
        raise UsageError(
            f"{what} under {text!r}; pass --format (one of {', '.join(format_names())})"
        )
    return next(iter(guesses.values()))


_SAMPLE = 1 << 20  # bytes read from the start of a text file to estimate its rows


def _estimated_rows(files: list[str], fmt: str) -> int:
    """How many rows the files hold: exact for parquet (footers), estimated for text."""
    if fmt == "parquet":
        return int(pl.scan_parquet(files).select(pl.len()).collect().item())
    total = 0
    for path in files:
        size = Path(path).stat().st_size
        with open(path, "rb") as fh:
            sample = fh.read(_SAMPLE)
        lines = max(sample.count(b"\n"), 1)
        total += round(size * lines / max(len(sample), 1))
    return total


def _with_progress(frame: pl.LazyFrame, files: list[str], fmt: str) -> pl.LazyFrame:
    """The data read in batches under a progress bar (rows, rate, time left) on a terminal.

    Off a terminal (and with ``DYNIO_PROGRESS=0``) the frame is returned as it is and read
    once, lazily, by the inference.
    """
    from dynio.engine.progress import progress, shown

    if not shown():
        return frame
    total = _estimated_rows(files, fmt)
    label = f"reading {Path(files[0]).name}" if len(files) == 1 else f"reading {len(files)} files"
    batches: list[pl.DataFrame] = []
    with progress(max(total, 1), label, unit="rows") as bar:
        for batch in frame.collect_batches():
            batches.append(batch)
            bar.update(batch.height)
    return pl.concat(batches).lazy() if batches else frame


def infer(args: argparse.Namespace) -> int:
    text = args.path
    files = _files(text)
    fmt = _format(text, files, args.format)
    matching = [p for p in files if p.lower().endswith(fmt.extensions)]
    # a file named on purpose (``data.txt --format csv``), or a folder of such files, is read
    # whatever its ending
    files = [p for p in (matching or files if args.format else matching) if Path(p).stat().st_size]
    if not files:
        raise DynioError(f"no {fmt.name} files found (empty or other endings)", file=text)
    other = looks_like(files[0])
    if other is not None and other != fmt.name:
        raise DynioError(
            f"the file looks like {other}, not {fmt.name}; pass --format {other}", file=files[0]
        )
    options = {"try_parse_dates": True} if fmt.name == "csv" else {}
    try:
        frame = _with_progress(fmt.scan(files, options, ScanHints()), files, fmt.name)
        name = args.name or Path(text.split("*")[0].rstrip("/") or ".").stem or "dataset"
        doc = infer_schema(frame, name, suggest=args.suggest)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise ReadError(f"cannot read {fmt.name}: {exc}", file=files[0]) from exc
    out = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(out, encoding="utf-8")
        print(f"wrote {args.output} ({len(doc['columns'])} columns from {len(files)} file(s))")
    else:
        print(out, end="")
    return EXIT_OK
