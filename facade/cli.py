"""The ``dynio`` command line.

Commands::

    dynio demo [--out DIR]                                   run the demo pipeline
    dynio read RESOURCE --config PATH [--env ENV] [--columns a,b] [--limit N] [--var K=V]
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

from dynio.engine.errors import DynioError

__all__ = ["main"]


def _vars(items: Sequence[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DynioError(f"--var takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


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

    catalog = sub.add_parser("catalog", help="catalog commands")
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    check = csub.add_parser(
        "check", help="load every resource in every environment and report all problems"
    )
    _config_args(check, env_required=False)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from dynio import demo

    demo.run(config=args.config, out=args.out)
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    from dynio.catalog import Catalog

    cat = Catalog.from_yaml(args.config, env=args.env, vars=_vars(args.var))
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    template_args: dict[str, Any] = _vars(args.arg)
    result = cat.read_result(
        args.resource, columns=columns, validate=not args.no_validate, **template_args
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


def _cmd_catalog_check(args: argparse.Namespace) -> int:
    from dynio.engine import loader

    variables = _vars(args.var)
    if args.env:
        try:
            spec = loader.load_catalog(args.config, variables=variables, env=args.env)
        except loader.ConfigProblems as exc:
            problems: list[Any] = list(exc.problems)
        except DynioError as exc:
            problems = [exc]
        else:
            problems = []
            count = len(spec.resources)
    else:
        problems = list(loader.check_catalog(args.config, variables=variables))
        count = 0
        if not problems:
            count = len(loader.load_catalog(args.config, variables=variables).resources)
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
    try:
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "read":
            return _cmd_read(args)
        return _cmd_catalog_check(args)
    except DynioError as exc:
        print(f"dynio: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
