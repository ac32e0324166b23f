"""dynamicio's command line: generate schema YAML from datasets (``python -m
dynio.compat.dynamicio``, dynamicio's ``dynamicio`` command).

::

    python -m dynio.compat.dynamicio -s -p data/trips.parquet -o schemas/
    python -m dynio.compat.dynamicio -b -p data/ -o schemas/

Each dataset is read with pandas' own reader for its extension (``.parquet``, ``.csv``,
``.json``, ``.h5``), so the schema lists the dtypes a pandas pipeline sees; dynio's own
``dynio schema infer`` does the same from the engine's dtypes.
"""

from __future__ import annotations

import argparse
import glob
import os
import pprint
from collections.abc import Sequence
from typing import Any

import pandas as pd
import yaml

from dynio.compat.dynamicio.errors import InvalidDatasetTypeError

__all__ = ["generate_schema_for", "main", "parse_args", "run"]

_READERS = {
    ".parquet": "read_parquet",
    ".csv": "read_csv",
    ".json": "read_json",
    ".h5": "read_hdf",
}


def parse_args(args: Sequence[str] | None = None) -> argparse.Namespace:
    """The command's arguments (``sys.argv[1:]`` when ``args`` is not given)."""
    parser = argparse.ArgumentParser(prog="dynamicio", description="Generate dataset schemas")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "-b", "--batch", action="store_true", help="one schema per dataset of a directory"
    )
    group.add_argument("-s", "--single", action="store_true", help="the schema of one dataset")
    parser.add_argument("-p", "--path", required=True, type=str, help="dataset or directory")
    parser.add_argument("-o", "--output", required=True, type=str, help="schemas directory")
    return parser.parse_args(args)


def generate_schema_for(dataset: str) -> dict[str, Any]:
    """The schema of a dataset: its name (the file's stem) and each column's pandas dtype.

    Raises:
        InvalidDatasetTypeError: The extension is not one of parquet, csv, json, h5.
    """
    name, extension = os.path.splitext(os.path.basename(dataset))
    reader = _READERS.get(extension)
    if reader is None:
        raise InvalidDatasetTypeError(dataset)
    df = getattr(pd, reader)(dataset)
    print(f"Generating schema for: {dataset}")
    columns = {
        column: {"type": dtype.name, "validations": {}, "metrics": []}
        for column, dtype in zip(df.columns, df.dtypes, strict=True)
    }
    return {"name": name, "columns": columns}


def _save(schema: dict[str, Any], output: str) -> None:
    with open(os.path.join(output, f"{schema['name']}.yaml"), "w", encoding="utf-8") as file:
        file.write("---\n")
        yaml.safe_dump(schema, file)


def main(args: argparse.Namespace) -> None:
    """Write ``<name>.yaml`` into ``args.output`` for one dataset or each of a directory's
    (a directory's files of other types are reported and skipped)."""
    if args.batch:
        for dataset in glob.glob(os.path.join(args.path, "*.*")):
            try:
                schema = generate_schema_for(dataset)
            except InvalidDatasetTypeError as exc:
                print(
                    f"Skipping {exc.message}! You may want to remove this file from the datasets"
                    " directory"
                )
            else:
                _save(schema, args.output)
    if args.single:
        schema = generate_schema_for(str(args.path))
        _save(schema, args.output)
        pprint.pprint(schema)


def run() -> None:
    """The command's entry point."""
    main(parse_args())
