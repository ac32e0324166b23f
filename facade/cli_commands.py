"""The commands of the ``dynio`` command line (parsing and exit codes are in :mod:`dynio.cli`).

Imported only when a command runs, so it may import Polars.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dynio.cli import EXIT_CONFIG, EXIT_DATA, EXIT_OK, UsageError
from dynio.engine.errors import ConfigError, DynioError
from dynio.engine.io.formats.parquet import write_parquet
from dynio.engine.placeholders import EnvText

__all__ = ["catalog", "demo", "parse_filter", "read", "schema_infer", "validate"]


def _pairs(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _vars(items: Sequence[str] | None) -> dict[str, Any]:
    """``--var`` values, typed like environment variables (a field wanting a number gets one)."""
    return {k: EnvText(v) for k, v in _pairs(items, "--var").items()}


def _catalog(args: argparse.Namespace) -> Any:
    from dynio.catalog import Catalog

    return Catalog.from_yaml(args.config, env=args.env, vars=_vars(args.var))


# ------------------------------------------------------------------------------------ demo


def demo(args: argparse.Namespace) -> int:
    from dynio import demo as demo_module

    demo_module.run(config=args.config, out=args.out, trace=args.trace)
    return EXIT_OK


# ------------------------------------------------------------------------------------ read

_COMPARE = re.compile(r"^\s*([^\s=!<>]+)\s*(==|!=|>=|<=|=|>|<)\s*(.+?)\s*$")
_MEMBER = re.compile(r"^\s*(\S+)\s+(not in|in)\s+(.+?)\s*$", re.IGNORECASE)


def _value(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_filter(text: str) -> tuple[str, str, Any]:
    """``"fare > 20"`` -> ``("fare", ">", 20)``; ``"pay in card,cash"`` -> ``(.., "in", [..])``.

    Raises:
        UsageError: The text is not ``COLUMN OP VALUE``.
    """
    member = _MEMBER.match(text)
    if member:
        column, op, values = member.groups()
        return column, op.lower(), [_value(v) for v in values.split(",")]
    compare = _COMPARE.match(text)
    if compare:
        column, op, value = compare.groups()
        return column, "==" if op == "=" else op, _value(value)
    raise UsageError(
        f"--filter takes COLUMN OP VALUE (OP one of == != > >= < <= in, not in), got {text!r}"
    )


def read(args: argparse.Namespace) -> int:
    if args.format == "parquet" and args.output is None and sys.stdout.isatty():
        raise UsageError("--format parquet writes binary: give -o FILE or pipe the output")
    cat = _catalog(args)
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    filters = [parse_filter(f) for f in args.filter or []] or None
    template_args: dict[str, Any] = _pairs(args.arg, "--arg")
    validate_rows = not args.no_validate
    if args.limit:
        result = cat.head(
            args.resource, args.limit, columns, filters, validate=validate_rows, **template_args
        )
    else:
        result = cat.read_result(  # everything: every rule, no metrics to compute
            args.resource,
            columns,
            filters,
            validate=validate_rows,
            metrics=False,
            raise_on_error=False,
            **template_args,
        )
    frame: pl.DataFrame = result.frame
    _emit(frame, args.format, args.output, args.limit)
    info = result.info
    shown = f"first {frame.height}" if args.limit and frame.height == args.limit else frame.height
    summary = (
        f"{shown} rows x {frame.width} columns from {info.kind} {info.format or ''}"
        f" {info.location}".replace("  ", " ")
    )
    if args.limit and frame.height == args.limit:
        summary += f" (--limit {args.limit}; --limit 0 reads all)"
    table_out = args.format == "table" and args.output is None
    print(summary, file=sys.stdout if table_out else sys.stderr)
    report = result.report
    if report.failures:
        where = f" (on the {frame.height} rows read)" if args.limit else ""
        print(report.summary() + where, file=sys.stderr)
    # rules on a preview's few rows tell little about the whole: only a full read fails on them
    return EXIT_DATA if report.errors and not args.limit else EXIT_OK


def _emit(frame: pl.DataFrame, fmt: str, output: Path | None, limit: int) -> None:
    """Print or save ``frame`` as a table, JSON, CSV or parquet."""
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "table":
        rows = limit or frame.height
        with pl.Config(tbl_rows=rows, tbl_cols=-1, fmt_str_lengths=40):
            text = str(frame)
        if output is None:
            print(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
    elif fmt == "json":
        text = json.dumps(frame.to_dicts(), default=str, ensure_ascii=False)
        if output is None:
            print(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
    elif fmt == "csv":
        if output is None:
            sys.stdout.write(frame.write_csv())
        else:
            frame.write_csv(output)
    elif output is None:  # parquet as dynio writes it: with page checksums
        sys.stdout.flush()
        write_parquet(frame, sys.stdout.buffer, {})
        sys.stdout.buffer.flush()
    else:
        with open(output, "wb") as fh:
            write_parquet(frame, fh, {})


# -------------------------------------------------------------------------------- validate


def validate(args: argparse.Namespace) -> int:
    cat = _catalog(args)
    template_args: dict[str, Any] = _pairs(args.arg, "--arg")
    result = cat.read_result(args.resource, metrics=False, raise_on_error=False, **template_args)
    report = result.report
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(_report_table(report))
    return EXIT_OK if report.ok else EXIT_DATA


def _report_table(report: Any) -> str:
    head = (
        f"{report.resource} ({report.env}): {report.checked} rule(s) on {report.rows} rows,"
        f" {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    )
    if not report.failures:
        return head + "\nall rules passed"
    rows = [("severity", "column", "rule", "failing", "share", "examples")]
    for f in report.failures:
        sample = ", ".join(repr(v) for v in f.sample)
        if f.detail:
            sample = (sample + "; " if sample else "") + f"absent: {list(f.detail)}"
        rows.append(
            (
                f.severity,
                f.column or "(frame)",
                f.rule,
                str(f.failing_count),
                f"{f.failing_share:.2%}",
                sample[:60],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return head + "\n" + "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------------------- schema infer


def schema_infer(args: argparse.Namespace) -> int:
    from dynio.cli_infer import infer

    return infer(args)


# --------------------------------------------------------------------------------- catalog


def catalog(args: argparse.Namespace, command: str) -> int:
    if command == "check":
        return _check(args)
    if command == "json-schema":
        import dynio.hdf  # noqa: F401  # registers the facade's format, so the schema has it
        from dynio.engine.json_schema import resource_schema, schema_file_schema

        doc = schema_file_schema() if args.schema_file else resource_schema()
        text = json.dumps(doc, indent=2) + "\n"
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text, encoding="utf-8")
        return EXIT_OK
    from dynio.engine import loader

    spec = loader.load_catalog(args.config, variables=_vars(args.var), env=args.env, strict=False)
    if command == "list":
        from dynio.cli_describe import list_resources

        print(list_resources(spec, args.env))
        return EXIT_OK
    from dynio.cli_describe import describe

    print(describe(spec, args.resource, args.env))
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from dynio.engine import loader

    # with --env, other environments' unset variables are not problems (as when a pipeline
    # loads); --allow-unset: no unset variable is
    problems = loader.check_catalog(
        args.config, variables=_vars(args.var), env=args.env, allow_unset=args.allow_unset
    )
    if args.json:
        print(json.dumps({"ok": not problems, "problems": [_as_dict(p) for p in problems]}))
        return EXIT_CONFIG if problems else EXIT_OK
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return EXIT_CONFIG
    spec = loader.load_catalog(
        args.config, variables=_vars(args.var), env=args.env, strict=False, allow_unset=True
    )
    where = f" in env {args.env!r}" if args.env else " in every environment"
    unset = " (unset variables allowed)" if args.allow_unset else ""
    print(f"ok: {len(spec.resources)} resource(s){where}{unset}")
    return EXIT_OK


def _as_dict(problem: DynioError) -> dict[str, Any]:
    line = problem.line if isinstance(problem, ConfigError) else None
    col = problem.col if isinstance(problem, ConfigError) else None
    return {
        "file": problem.file,
        "line": line,
        "column": col,
        "resource": problem.resource,
        "env": problem.env,
        "key": problem.key_path,
        "message": problem.message,
        "kind": type(problem).__name__,
        "text": str(problem),
    }
