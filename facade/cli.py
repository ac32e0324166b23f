"""The ``dynio`` command line.

Commands::

    dynio demo [--out DIR] [--trace]                         run the demo pipeline
    dynio read RESOURCE --config PATH [--env ENV] [--columns a,b] [--limit N] [--var K=V] [--trace]
    dynio validate RESOURCE --config PATH [--env ENV] [--json] [--trace]
    dynio schema infer PATH_OR_GLOB [-o OUT] [--suggest]
    dynio catalog check --config PATH [--env ENV] [--var K=V]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dynio import cli_pandera
from dynio.engine.errors import DynioError
from dynio.engine.placeholders import EnvText

__all__ = ["main"]


def _pairs(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DynioError(f"{flag} takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _vars(items: Sequence[str] | None) -> dict[str, Any]:
    """``--var`` values, typed like environment variables (a field wanting a number gets one)."""
    return {k: EnvText(v) for k, v in _pairs(items, "--var").items()}


def _config_args(p: argparse.ArgumentParser, env_required: bool) -> None:
    p.add_argument(
        "--config", "-c", required=True, help="resource YAML file or folder of YAML files"
    )
    p.add_argument(
        "--env",
        "-e",
        default=os.environ.get("DYNIO_ENV"),
        required=env_required and not os.environ.get("DYNIO_ENV"),
        help="environment to use (default: $DYNIO_ENV)",
    )
    p.add_argument(
        "--var",
        action="append",
        metavar="KEY=VALUE",
        help="value for a [[ KEY ]] placeholder (repeatable; environment variables also work)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynio",
        description="Read, write, validate and check dynio resources named in YAML catalogs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the demo pipeline on the local sample files")
    demo.add_argument("--out", type=Path, help="output folder (default: ./dynio-demo-output)")
    demo.add_argument("--config", type=Path, help="demo config folder (default: configs/demo)")
    _trace_arg(demo)

    read = sub.add_parser("read", help="read a resource and print a preview")
    read.add_argument("resource", help="resource name")
    _config_args(read, env_required=True)
    read.add_argument("--columns", help="comma-separated columns to read")
    read.add_argument("--limit", type=int, default=10, help="rows to show (default 10)")
    read.add_argument(
        "--arg",
        action="append",
        metavar="NAME=VALUE",
        help="value for a {NAME} template in the resource's path (repeatable)",
    )
    read.add_argument("--no-validate", action="store_true", help="skip the schema's rules")
    _trace_arg(read)

    val = sub.add_parser(
        "validate", help="read a resource, print its validation report; exit 1 on errors"
    )
    val.add_argument("resource", help="resource name")
    _config_args(val, env_required=True)
    val.add_argument("--arg", action="append", metavar="NAME=VALUE", help="path template value")
    val.add_argument("--json", action="store_true", help="print the report as JSON")
    _trace_arg(val)

    schema = sub.add_parser("schema", help="schema commands")
    ssub = schema.add_subparsers(dest="schema_command", required=True, metavar="SUBCOMMAND")
    infer = ssub.add_parser("infer", help="write schema YAML inferred from data files")
    infer.add_argument("path", help="a data file, a folder, or a glob (** recurses)")
    infer.add_argument("-o", "--output", type=Path, help="output YAML file (default: stdout)")
    infer.add_argument("--name", help="schema name (default: the file or folder name)")
    infer.add_argument("--format", help="file type when the ending does not tell (csv, parquet…)")
    infer.add_argument(
        "--suggest",
        action="store_true",
        help="also propose rules the data satisfies: not-null, unique, ranges, category sets",
    )
    cli_pandera.add_parsers(ssub)

    catalog = sub.add_parser("catalog", help="catalog commands")
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    check = csub.add_parser(
        "check", help="load every resource in every environment and report all problems"
    )
    _config_args(check, env_required=False)
    return parser


def _trace_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trace",
        action="store_true",
        help="print the run's spans as a tree with durations (needs dynio[otel]); spans also go"
        " to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set",
    )


# any of these asks the CLI to export telemetry (configured by the other OTEL_* variables)
_OTLP_ENDPOINTS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)


def _telemetry(trace: bool) -> Any:
    """Set up the OpenTelemetry SDK when an OTLP endpoint is configured or ``--trace`` is given.

    With ``--trace`` alone nothing is exported (the tree is printed); an endpoint alone exports
    without printing. Returns the :class:`dynio.telemetry.Telemetry` handle, or ``None``.
    """
    exporting = any(os.environ.get(name) for name in _OTLP_ENDPOINTS)
    if not (exporting or trace):
        return None
    from dynio import telemetry
    from dynio.engine.errors import MissingDependencyError

    try:
        return telemetry.configure(service_name="dynio", exporters=None if exporting else "none")
    except MissingDependencyError:
        if trace:
            raise
        print(
            "dynio: warning: an OTLP endpoint is set but the OpenTelemetry SDK is not installed"
            " (pip install 'dynio[otel]'); not exporting telemetry",
            file=sys.stderr,
        )
        return None


def _cmd_demo(args: argparse.Namespace) -> int:
    from dynio import demo

    demo.run(config=args.config, out=args.out, trace=args.trace)
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    from dynio.catalog import Catalog

    cat = Catalog.from_yaml(args.config, env=args.env, vars=_vars(args.var))
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    template_args: dict[str, Any] = _pairs(args.arg, "--arg")
    result = cat.read_result(  # a preview: the rules, but no metrics to compute
        args.resource,
        columns=columns,
        validate=not args.no_validate,
        metrics=False,
        **template_args,
    )
    frame = result.frame
    with pl.Config(tbl_rows=args.limit, tbl_cols=-1, fmt_str_lengths=40):
        print(frame.head(args.limit))
    info = result.info
    print(
        f"{frame.height} rows x {frame.width} columns from {info.kind}"
        f" {info.format or ''} {info.location}".rstrip()
    )
    if result.report.failures:
        print(result.report.summary())
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import json

    from dynio.catalog import Catalog

    cat = Catalog.from_yaml(args.config, env=args.env, vars=_vars(args.var))
    template_args: dict[str, Any] = _pairs(args.arg, "--arg")
    result = cat.read_result(args.resource, metrics=False, raise_on_error=False, **template_args)
    report = result.report
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(_report_table(report))
    return 0 if report.ok else 1


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


def _cmd_schema_infer(args: argparse.Namespace) -> int:
    import glob

    import yaml

    from dynio.engine.formats import ScanHints, format_for, infer_format
    from dynio.engine.infer import infer_schema

    text = args.path
    if any(c in text for c in "*?["):
        files = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
    elif Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*") if p.is_file())
    else:
        files = [text] if Path(text).is_file() else []
    fmt = format_for(args.format) if args.format else None
    if args.format and fmt is None:
        raise DynioError(f"unknown format {args.format!r}")
    if fmt is None:
        guesses = {f.name: f for f in (infer_format(p) for p in files) if f is not None}
        if len(guesses) != 1:
            what = "no data files" if not guesses else f"several formats {sorted(guesses)}"
            raise DynioError(f"{what} under {text!r}; pass --format", file=text)
        fmt = next(iter(guesses.values()))
    files = [p for p in files if p.lower().endswith(fmt.extensions) and Path(p).stat().st_size]
    if not files:
        raise DynioError(f"no {fmt.name} files found", file=text)
    options = {"try_parse_dates": True} if fmt.name == "csv" else {}
    try:
        frame = fmt.scan(files, options, ScanHints())
        name = args.name or Path(text.split("*")[0].rstrip("/") or ".").stem or "dataset"
        doc = infer_schema(frame, name, suggest=args.suggest)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DynioError(f"cannot read {fmt.name}: {exc}", file=files[0]) from exc
    out = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(out, encoding="utf-8")
        print(f"wrote {args.output} ({len(doc['columns'])} columns from {len(files)} file(s))")
    else:
        print(out, end="")
    return 0


def _cmd_catalog_check(args: argparse.Namespace) -> int:
    from dynio.engine import loader

    # with --env, other environments' unset variables are deferred (as when a pipeline loads)
    try:
        spec = loader.load_catalog(args.config, variables=_vars(args.var), env=args.env or None)
    except loader.ConfigProblems as exc:
        problems: list[Any] = list(exc.problems)
    except DynioError as exc:
        problems = [exc]
    else:
        problems = []
        count = len(spec.resources)
    if problems:
        print(f"{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    where = f" in env {args.env!r}" if args.env else " in every environment"
    print(f"ok: {count} resource(s){where}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (1 on a dynio error, with the message on stderr)."""
    args = _parser().parse_args(argv)
    handle = None
    try:
        trace = bool(getattr(args, "trace", False))
        handle = _telemetry(trace)
        if args.command == "demo":
            return _cmd_demo(args)  # the demo prints its own span tree
        if trace:
            return _traced(args)
        return _dispatch(args)
    except DynioError as exc:
        print(f"dynio: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an error dynio did not translate: still one line, no traceback
        if os.environ.get("DYNIO_DEBUG"):
            raise
        print(
            f"dynio: unexpected error ({type(exc).__name__}): {exc}"
            " (set DYNIO_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 2
    finally:
        if handle is not None:
            handle.shutdown()  # export what is pending before the process ends


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "read":
        return _cmd_read(args)
    if args.command == "validate":
        return _cmd_validate(args)
    if args.command == "schema" and args.schema_command in cli_pandera.COMMANDS:
        return cli_pandera.run(args)
    if args.command == "schema":
        return _cmd_schema_infer(args)
    return _cmd_catalog_check(args)


def _traced(args: argparse.Namespace) -> int:
    from dynio.telemetry import capture_spans

    with capture_spans() as captured:
        try:
            return _dispatch(args)
        finally:
            # on standard error, so the command's own output stays parseable (--json)
            print("spans:\n" + captured.tree(), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
