"""The ``dynio`` command line.

Commands::

    dynio demo [--out DIR] [--trace]                          run the demo pipeline
    dynio read RESOURCE -c PATH [-e ENV] [--columns a,b] [--filter EXPR] [--limit N]
               [--format table|json|csv|parquet] [-o FILE] [--var K=V] [--arg K=V] [--trace]
    dynio validate RESOURCE -c PATH [-e ENV] [--json] [--trace]
    dynio schema infer PATH_OR_GLOB [-o OUT] [--format F] [--suggest]
    dynio catalog check -c PATH [-e ENV] [--allow-unset] [--json]
    dynio catalog list -c PATH [-e ENV]
    dynio catalog describe RESOURCE -c PATH
    dynio catalog json-schema [--schema-file]
    dynio completion bash|zsh|fish

Exit codes: 0 ok; 1 the data failed its checks (rules, casts, columns); 2 usage (bad arguments,
an unknown resource, a missing ``--arg``); 3 configuration (the YAML, a missing extra); 4 I/O
(reading or writing failed); 70 internal (a bug: please report it).

This module imports neither Polars nor pandas: ``dynio --help`` and ``dynio --version`` answer at
once; a command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dynio import cli_pandera

__all__ = ["EXIT_CONFIG", "EXIT_DATA", "EXIT_INTERNAL", "EXIT_IO", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_DATA = 1  # rules failed, values that do not cast, missing columns
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_CONFIG = 3
EXIT_IO = 4
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h

_FORMATS = ("table", "json", "csv", "parquet")


class UsageError(Exception):
    """A command-line argument that cannot be used (exit code 2)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dynio")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _config_args(p: argparse.ArgumentParser, env_required: bool) -> None:
    p.add_argument(
        "--config", "-c", required=True, help="resource YAML file or folder of YAML files"
    )
    default_env = os.environ.get("DYNIO_ENV") or None
    p.add_argument(
        "--env",
        "-e",
        default=default_env,
        required=env_required and default_env is None,
        help=f"environment to use (default: $DYNIO_ENV, now {default_env!r})"
        if default_env
        else "environment to use (or set $DYNIO_ENV)",
    )
    p.add_argument(
        "--var",
        action="append",
        metavar="KEY=VALUE",
        help="value for a [[ KEY ]] placeholder (repeatable; environment variables also work)",
    )


def _trace_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trace",
        action="store_true",
        help="print the run's spans as a tree with durations (needs dynio[otel]); spans also go"
        " to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set",
    )


def _arg_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arg",
        action="append",
        metavar="NAME=VALUE",
        help="value for a {NAME} template in the resource's path (repeatable)",
    )


def _read_parser(sub: Any) -> None:
    read = sub.add_parser(
        "read",
        help="show the first rows of a resource (reads only those)",
        description="Read the first --limit rows of a resource lazily (only those are read,"
        " cast and checked) and print or save them. --limit 0 reads everything.",
    )
    read.add_argument("resource", help="resource name")
    _config_args(read, env_required=True)
    read.add_argument("--columns", help="comma-separated columns to read")
    read.add_argument(
        "--filter",
        action="append",
        metavar="EXPR",
        help="keep rows where EXPR holds: 'fare > 20', 'payment in card,cash', 'id != 3'"
        " (repeatable; all must hold; pushed into the scan)",
    )
    read.add_argument(
        "--limit",
        type=_non_negative,
        default=10,
        help="rows to read and show (default 10; 0 reads all and runs every rule)",
    )
    read.add_argument(
        "--format",
        choices=_FORMATS,
        default="table",
        help="output format (default table; parquet needs -o or a pipe)",
    )
    read.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    _arg_option(read)
    read.add_argument("--no-validate", action="store_true", help="skip the schema's rules")
    _trace_arg(read)


def _catalog_parser(sub: Any) -> None:
    catalog = sub.add_parser("catalog", help="catalog commands")
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    check = csub.add_parser(
        "check",
        help="check every resource in every environment and report all problems",
        description="Check every resource and report every problem (file:line:col). With"
        " --env, unset variables of other environments are not problems; with --allow-unset"
        " none are (a structure check of a production catalog without its secrets).",
    )
    _config_args(check, env_required=False)
    check.add_argument(
        "--allow-unset",
        action="store_true",
        help="unset [[ VARS ]] are not problems (check structure without secrets)",
    )
    check.add_argument("--json", action="store_true", help="print the problems as JSON")
    listing = csub.add_parser("list", help="list resources with their environments and types")
    _config_args(listing, env_required=False)
    describe = csub.add_parser(
        "describe", help="show a resource: locations per environment, schema, rules, metrics"
    )
    describe.add_argument("resource", help="resource name")
    _config_args(describe, env_required=False)
    js = csub.add_parser(
        "json-schema",
        help="print the JSON Schema of resource YAML (editors use it to complete and check)",
    )
    js.add_argument(
        "--schema-file", action="store_true", help="the JSON Schema of schema YAML instead"
    )
    js.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynio",
        description="Read, write, validate and check dynio resources named in YAML catalogs.",
        epilog="exit codes: 0 ok, 1 data failed its checks, 2 usage, 3 configuration, 4 I/O,"
        " 70 internal error",
    )
    parser.add_argument("--version", action="version", version=f"dynio {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the demo pipeline on the bundled sample files")
    demo.add_argument("--out", type=Path, help="output folder (default: ./dynio-demo-output)")
    demo.add_argument("--config", type=Path, help="demo config folder (default: the bundled one)")
    _trace_arg(demo)

    _read_parser(sub)

    val = sub.add_parser(
        "validate", help="read a resource, print its validation report; exit 1 on errors"
    )
    val.add_argument("resource", help="resource name")
    _config_args(val, env_required=True)
    _arg_option(val)
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

    _catalog_parser(sub)
    from dynio import cli_gc

    cli_gc.add_parser(sub, _config_args)

    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description='Print a completion script. bash: eval "$(dynio completion bash)";'
        ' zsh: eval "$(dynio completion zsh)"; fish: dynio completion fish | source',
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    return parser


# any of these asks the CLI to export telemetry (configured by the other OTEL_* variables)
_OTLP_ENDPOINTS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
)


def _exporting() -> bool:
    """Whether the environment asks for telemetry: an OTLP endpoint, or an exporter named
    (``OTEL_TRACES_EXPORTER=console``; ``none`` everywhere asks for nothing)."""
    set_ = {name: os.environ.get(name, "").strip() for name in _OTLP_ENDPOINTS}
    if any(v for k, v in set_.items() if "ENDPOINT" in k):
        return True
    return any(v and v.lower() != "none" for k, v in set_.items() if k.endswith("_EXPORTER"))


def _telemetry(trace: bool) -> Any:
    """Set up the OpenTelemetry SDK when an OTLP endpoint or an exporter is configured
    (``OTEL_*_EXPORTER``), or ``--trace`` is given.

    With ``--trace`` alone nothing is exported (the tree is printed); an endpoint alone exports
    without printing. Returns the :class:`dynio.telemetry.Telemetry` handle, or ``None``.
    """
    exporting = _exporting()
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


def exit_code(exc: BaseException) -> int:
    """The exit code for an error (see the module notes)."""
    from dynio.engine import errors

    if isinstance(exc, UsageError | errors.TemplateError | errors.ResourceNotFoundError):
        return EXIT_USAGE
    if isinstance(
        exc, errors.ConfigError | errors.MissingDependencyError | errors.UnsupportedError
    ):
        return EXIT_CONFIG
    if isinstance(exc, errors.ReadError | errors.WriteError):
        return EXIT_IO
    if isinstance(exc, errors.DynioError):
        return EXIT_DATA
    return EXIT_INTERNAL


class _OnceFilter(logging.Filter):
    """Drops the terminal's copy of a rule warning's log line (the command prints the report
    itself); handlers that export logs (OpenTelemetry) still get the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != "_check_report"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module notes), messages on stderr."""
    args = _parser().parse_args(argv)
    if args.command == "completion":
        from dynio.cli_completion import script

        print(script(args.shell, _parser()), end="")
        return EXIT_OK
    from dynio.engine.errors import DynioError

    handle = None
    # a rule warning reaches standard error through logging's last resort when no handler is
    # set up; the command prints the report itself, so it is not printed twice (handlers an
    # application or the OpenTelemetry bridge installed still get it)
    quiet = _OnceFilter()
    terminal = logging.lastResort  # what prints a warning on stderr when nothing is set up
    if terminal is not None:
        terminal.addFilter(quiet)
    try:
        trace = bool(getattr(args, "trace", False))
        handle = _telemetry(trace)
        if args.command == "demo":
            from dynio import cli_commands

            return cli_commands.demo(args)  # the demo prints its own span tree
        if trace:
            return _traced(args)
        return _dispatch(args)
    except (DynioError, UsageError) as exc:
        print(f"dynio: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # an error dynio did not translate: still one line, no traceback
        if os.environ.get("DYNIO_DEBUG"):
            raise
        print(
            f"dynio: unexpected error ({type(exc).__name__}): {exc}"
            " (set DYNIO_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        if terminal is not None:
            terminal.removeFilter(quiet)
        if handle is not None:
            handle.shutdown()  # export what is pending before the process ends


def _dispatch(args: argparse.Namespace) -> int:
    from dynio import cli_commands

    if args.command == "read":
        return cli_commands.read(args)
    if args.command == "validate":
        return cli_commands.validate(args)
    if args.command == "schema" and args.schema_command in cli_pandera.COMMANDS:
        return cli_pandera.run(args)
    if args.command == "schema":
        return cli_commands.schema_infer(args)
    if args.command == "gc":
        from dynio import cli_gc

        return cli_gc.run(args, cli_commands._vars(args.var))
    return cli_commands.catalog(args, args.catalog_command)


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
