"""``dynio schema to-pandera`` and ``dynio schema from-pandera``: the pandera bridge on the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["COMMANDS", "add_parsers", "run"]

COMMANDS = frozenset({"to-pandera", "from-pandera"})


def add_parsers(ssub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the two subcommands under ``dynio schema``."""
    to = ssub.add_parser(
        "to-pandera", help="write a pandera schema (YAML) deciding what a dynio schema decides"
    )
    to.add_argument("schema", type=Path, help="dynio schema YAML")
    to.add_argument("-o", "--output", type=Path, help="output YAML file (default: stdout)")
    frm = ssub.add_parser("from-pandera", help="write dynio schema YAML from a pandera schema YAML")
    frm.add_argument("schema", type=Path, help="pandera schema YAML (DataFrameSchema.to_yaml)")
    frm.add_argument("-o", "--output", type=Path, help="output YAML file (default: stdout)")
    frm.add_argument("--name", help="the dynio schema's name (default: pandera's)")


def run(args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; returns the exit code."""
    import yaml

    from dynio.engine.errors import MissingDependencyError

    try:
        from dynio.pandera import from_pandera, to_pandera
    except ImportError as exc:
        raise MissingDependencyError("the pandera bridge needs pandera", extra="pandera") from exc
    if args.schema_command == "to-pandera":
        text = str(to_pandera(args.schema, backend="pandas").to_yaml())
    else:
        text = yaml.safe_dump(from_pandera(args.schema, name=args.name), sort_keys=False)
    if args.output is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        args.output.write_text(text)
    return 0
