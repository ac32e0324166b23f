"""``dynio gc``: remove what killed writers left, for every file resource of a catalog.

For each resource in the environment: hidden temporary files and folders beside a local file or
dataset folder; beside an object-store dataset, staging prefixes no commit names, unfinished
commits (finished) and unfinished multipart uploads. Only leftovers older than ``--older-than``
seconds (default: an hour, so a running writer's are kept) are touched; ``--dry-run`` lists them
without removing anything.
"""

from __future__ import annotations

import argparse
from typing import Any

from dynio.cli import EXIT_OK

__all__ = ["add_parser", "run"]


def add_parser(sub: Any, config_args: Any) -> None:
    """The ``gc`` sub-command's arguments (nothing heavy imported: ``dynio --help`` is quick)."""
    gc = sub.add_parser(
        "gc",
        help="remove leftovers of killed writers (temporary files, staged objects)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    config_args(gc, env_required=True)
    gc.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="SECONDS",
        help="only leftovers at least this old (default 3600: a running writer's are younger)",
    )
    gc.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")


def run(args: argparse.Namespace, variables: dict[str, str]) -> int:
    """Clean every file resource of the catalog in ``args.env``; prints one line per leftover."""
    from dynio.engine import loader
    from dynio.engine.errors import TemplateError
    from dynio.engine.io.layout.folders import LEFTOVER_AGE
    from dynio.engine.sources import files, kind_for

    spec = loader.load_catalog(args.config, variables=variables, env=args.env, strict=False)
    verb = "would remove" if args.dry_run else "removed"
    older_than = LEFTOVER_AGE if args.older_than is None else args.older_than
    for name, res in spec.resources.items():
        env = res.envs.get(args.env)
        kind = kind_for(env.source.kind) if env is not None else None
        if env is None or kind is None or kind.module != files.__name__:
            continue
        context = {"resource": name, "env": args.env}
        try:
            done = files.gc(env.source, context, older_than=older_than, dry_run=args.dry_run)
        except TemplateError:
            print(f"{name}: skipped (its location has {{templates}} to fill)")
            continue
        for item in done:
            print(f"{name}: {verb} {item}")
    return EXIT_OK
