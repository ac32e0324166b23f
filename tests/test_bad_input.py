"""The bad-input corpus (issue 9): each way a catalog or a data file can be wrong, refused clearly.

Every case names the exact :class:`DynioError` subclass it must raise (not a base class) and
the words its message must hold: the resource, the file, the key path, the column, the values.
Every message must be dynio's own sentence, not a dependency's text passed on (the dependency's
exception may be the ``__cause__``), and a failed write must leave nothing behind in its
destination folder, not even a temporary file.

The bad files live in ``tests/bad_input/``: ``config/`` holds catalogs, ``schemas/`` the schema
files they name, ``data/`` the data files. Binary cases (truncated and corrupted parquet) are cut
from a good file by the ``corpus`` fixture, the same bytes on every run.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
import yaml

import dynio
import dynio.engine
from dynio import cli
from dynio.engine.errors import (
    CastError,
    ConfigError,
    DynioError,
    MissingVariableError,
    ReadError,
    SchemaError,
    TemplateError,
    UnknownEnvironmentError,
    ValidationError,
    WriteError,
    first_line,
)

CORPUS = Path(__file__).parent / "bad_input"

# ------------------------------------------------------------------------------------ fixtures


def _good_parquet() -> bytes:
    frame = pl.DataFrame({"trip_id": range(1000), "fare": [i * 0.5 for i in range(1000)]})
    out = io.BytesIO()
    frame.write_parquet(out, compression="snappy")
    return out.getvalue()


def _generated() -> dict[str, bytes]:
    """Binary cases cut from one good parquet file, deterministically."""
    good = _good_parquet()
    middle = len(good) // 2
    return {
        "truncated.parquet": good[:middle],
        # 0xFF over the middle of the file lands in the data pages: the dictionary indices read
        # from there point past the dictionary
        "corrupted_middle.parquet": good[: middle - 64] + b"\xff" * 128 + good[middle + 64 :],
        # the first page header (thrift) right after the leading PAR1 marker
        "corrupted_page_header.parquet": good[:4] + b"\xab" * 16 + good[20:],
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``tests/bad_input`` with the generated binary cases in ``data/``."""
    root = tmp_path_factory.mktemp("bad_input")
    shutil.copytree(CORPUS, root, dirs_exist_ok=True)
    for name, content in _generated().items():
        (root / "data" / name).write_bytes(content)
    return root


# ------------------------------------------------------------------------------------- actions

Action = Callable[[Path, Path], object]  # (corpus, scratch folder) -> does the bad thing
SCHEMA = {"trip_id": "int64", "fare": "float64"}


def _catalog(scratch: Path, env: dict[str, Any], schema: Any) -> dynio.Catalog:
    doc: dict[str, Any] = {"trips": {"local": env}}
    if schema is not None:
        doc["trips"]["schema"] = schema
    path = scratch / "resources.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return dynio.Catalog.from_yaml(path, env="local")


def _schema(columns: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "trips",
        "columns": {k: v if isinstance(v, dict) else {"type": v} for k, v in columns.items()},
    }


@dataclass(frozen=True)
class Load:
    """Load ``config/<file>`` as a catalog in env ``local``."""

    file: str

    def __call__(self, corpus: Path, scratch: Path) -> object:
        return dynio.Catalog.from_yaml(corpus / "config" / self.file, env="local", strict=True)


@dataclass(frozen=True)
class Read:
    """Read ``data/<file>`` as resource ``trips`` (``file_path`` may template it instead)."""

    file: str
    file_type: str
    columns: dict[str, Any]
    options: dict[str, Any] | None
    file_path: str | None
    args: dict[str, str]

    def __call__(self, corpus: Path, scratch: Path) -> object:
        location = self.file_path or str(corpus / "data" / self.file)
        env: dict[str, Any] = {
            "type": "local",
            "local": {"file_path": location, "file_type": self.file_type},
        }
        if self.options:
            env["options"] = self.options
        return _catalog(scratch, env, _schema(self.columns)).read("trips", **self.args)


def load(file: str) -> Load:
    return Load(file)


def read(
    file: str,
    file_type: str,
    columns: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    file_path: str | None = None,
    **args: str,
) -> Read:
    return Read(file, file_type, columns or SCHEMA, options, file_path, args)


def write(
    frame: dict[str, list[Any]],
    columns: dict[str, Any] | None = None,
    file_path: str = "out/trips.parquet",
    **args: str,
) -> Action:
    """Write ``frame`` (as pandas) to resource ``trips`` at ``file_path`` (scratch-relative)."""

    def run(corpus: Path, scratch: Path) -> object:
        env = {"type": "local", "local": {"file_path": file_path, "file_type": "parquet"}}
        cat = _catalog(scratch, env, _schema(columns or SCHEMA))
        return cat.write("trips", pd.DataFrame(frame), **args)

    return run


def write_into_file(corpus: Path, scratch: Path) -> object:
    """A write whose destination folder is a file."""
    (scratch / "out").mkdir()
    (scratch / "out" / "blocker").write_text("a file where a folder should be")
    env = {"type": "local", "local": {"file_path": "out/blocker/t.parquet", "file_type": "parquet"}}
    return _catalog(scratch, env, _schema(SCHEMA)).write(
        "trips", pd.DataFrame({"trip_id": [1], "fare": [1.0]})
    )


# --------------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One bad input: what to do, the error it must raise, the words its message must hold.

    Attributes:
        id: The test id.
        run: Does the bad thing, given the corpus and a scratch folder.
        expected: The exact error class.
        names: Substrings the message must contain.
        out: For writes, the folder (under the scratch folder) that must stay empty.
    """

    id: str
    run: Action
    expected: type[DynioError]
    names: tuple[str, ...]
    out: str | None = None


GOOD = {"trip_id": [1, 2], "fare": [1.0, 2.0]}
UNIQUE_ID = {"trip_id": {"type": "int64", "validations": {"has_unique_values": {"apply": True}}}}

CASES = [
    # ---- the loader: YAML syntax -------------------------------------------------------
    Case("yaml-tab-indent", load("tab_indent.yaml"), ConfigError,
         ("tab_indent.yaml", "invalid YAML at line 3", "tabs")),
    Case("yaml-unclosed-bracket", load("unclosed_bracket.yaml"), ConfigError,
         ("unclosed_bracket.yaml", "invalid YAML at line 5")),
    Case("yaml-duplicate-resource", load("duplicate_resource.yaml"), ConfigError,
         ("duplicate_resource.yaml", "'trips' twice")),
    Case("yaml-duplicate-key", load("duplicate_key.yaml"), ConfigError,
         ("duplicate_key.yaml", "'file_type' twice", "line 7")),
    Case("yaml-not-utf8", load("not_utf8.yaml"), ConfigError,
         ("not_utf8.yaml", "not UTF-8", "line 4")),
    Case("yaml-top-level-list", load("top_level_list.yaml"), ConfigError,
         ("top_level_list.yaml", "got list")),
    # ---- the loader: wrong value types ---------------------------------------------------
    Case("type-file_type-number", load("file_type_number.yaml"), ConfigError,
         ("file_type_number.yaml", "'trips'", "trips.local.local.file_type", "'3'")),
    Case("type-file_path-list", load("file_path_list.yaml"), ConfigError,
         ("file_path_list.yaml", "trips.local.local.file_path", "expected str, got list")),
    Case("type-source-type-number", load("type_number.yaml"), ConfigError,
         ("type_number.yaml", "trips.local.type", "unknown source type 5")),
    Case("type-validations-list", load("validations_list.yaml"), ConfigError,
         ("validations_list.yaml", "trips.schema.columns.trip_id.validations", "got list")),
    Case("type-nullable-text", load("nullable_text.yaml"), ConfigError,
         ("nullable_text.yaml", "trips.schema.columns.trip_id.nullable", "'maybe'")),
    Case("type-unknown-dtype", load("unknown_dtype.yaml"), ConfigError,
         ("unknown_dtype.yaml", "column 'fare'", "'money'")),
    # ---- the loader: unknown keys, at every level ----------------------------------------
    Case("unknown-key-resource", load("unknown_resource_key.yaml"), ConfigError,
         ("unknown_resource_key.yaml", "trips.colour", "environment must be a mapping")),
    Case("unknown-key-env", load("unknown_env_key.yaml"), ConfigError,
         ("unknown_env_key.yaml", "trips.local.colour", "'colour'")),
    Case("unknown-key-source-section", load("unknown_section_key.yaml"), ConfigError,
         ("unknown_section_key.yaml", "trips.local.local.colour")),
    Case("unknown-key-option", load("unknown_option.yaml"), ConfigError,
         ("unknown_option.yaml", "trips.local.options.colour")),
    Case("unknown-key-schema", load("unknown_schema_key.yaml"), ConfigError,
         ("unknown_schema_key.yaml", "trips.schema.colour")),
    Case("unknown-key-column", load("unknown_column_key.yaml"), ConfigError,
         ("unknown_column_key.yaml", "trips.schema.columns.trip_id.colour", "column 'trip_id'")),
    Case("unknown-key-rule", load("unknown_rule_key.yaml"), ConfigError,
         ("unknown_rule_key.yaml", "validations.has_unique_values.colour")),
    Case("unknown-key-column-in-schema-file", load("schema_unknown_column_key_file.yaml"),
         ConfigError, ("unknown_column_key.yaml", "'trips'", "columns.trip_id.colour")),
    # ---- the loader: variables, schema files, environments -------------------------------
    Case("missing-variable", load("missing_variable.yaml"), MissingVariableError,
         ("[[ TRIPS_DIR ]]", "missing_variable.yaml", "trips.local.local.file_path")),
    Case("missing-variable-in-schema-file", load("missing_variable_in_schema.yaml"),
         MissingVariableError, ("[[ MIN_FARE ]]", "needs_variable.yaml", "'trips'")),
    Case("schema-file-missing", load("schema_file_missing.yaml"), ConfigError,
         ("no_such_schema.yaml", "schema_file_missing.yaml", "trips.schema.file_path")),
    Case("schema-file-malformed", load("schema_file_malformed.yaml"), ConfigError,
         ("malformed.yaml", "'trips'", "invalid YAML at line 4")),
    Case("unknown-environment", load("unknown_environment.yaml"), UnknownEnvironmentError,
         ("unknown_environment.yaml", "'local'", "['prod']")),
    # ---- reads: parquet ------------------------------------------------------------------
    Case("parquet-truncated", read("truncated.parquet", "parquet"), ReadError,
         ("truncated.parquet", "'trips'", "truncated")),
    Case("parquet-corrupted-middle", read("corrupted_middle.parquet", "parquet"), ReadError,
         ("corrupted_middle.parquet", "'trips'", "corrupted")),
    Case("parquet-corrupted-page-header", read("corrupted_page_header.parquet", "parquet"),
         ReadError, ("corrupted_page_header.parquet", "corrupted")),
    Case("parquet-zero-bytes", read("empty.parquet", "parquet"), ReadError,
         ("empty.parquet", "'trips'", "empty (0 bytes)")),
    Case("parquet-is-csv-text", read("csv_named_parquet.parquet", "parquet"), ReadError,
         ("csv_named_parquet.parquet", "not a parquet file")),
    Case("ipc-zero-bytes", read("empty.arrow", "ipc"), ReadError,
         ("empty.arrow", "'trips'", "empty (0 bytes)")),
    Case("file-missing", read("no_such_file.csv", "csv"), ReadError,
         ("no_such_file.csv", "'trips'", "does not exist")),
    # ---- reads: csv ----------------------------------------------------------------------
    Case("csv-zero-bytes", read("empty.csv", "csv"), ReadError,
         ("empty.csv", "'trips'", "empty (0 bytes)")),
    Case("csv-ragged-too-many-fields", read("ragged_too_many.csv", "csv"), ReadError,
         ("ragged_too_many.csv", "line 3 has 3 fields where the header has 2",
          "truncate_ragged_lines")),
    # a short row reads as nulls, as pandas reads it; a column that may not be null says so
    Case("csv-ragged-too-few-fields",
         read("ragged_too_few.csv", "csv", {"trip_id": "int64",
                                            "fare": {"type": "float64", "nullable": False}}),
         ValidationError, ("'trips'", "has_no_null_values", "column 'fare'")),
    Case("csv-latin1-as-utf8",
         read("latin1.csv", "csv", {"trip_id": "int64", "city": "object"}), ReadError,
         ("latin1.csv", "not utf-8 text", "byte 0xfc on line 2", "options.encoding")),
    Case("csv-utf16-as-utf8",
         read("utf16.csv", "csv", {"trip_id": "int64", "city": "object"}), ReadError,
         ("utf16.csv", "UTF-16", "options.encoding")),
    # checked when read, not when loaded (tests/test_local_io.py pins a ReadError)
    Case("csv-unknown-encoding", read("good.csv", "csv", options={"encoding": "klingon"}),
         ReadError, ("good.csv", "unknown encoding 'klingon'", "options.encoding")),
    Case("csv-text-in-int64-column", read("text_in_int.csv", "csv"), CastError,
         ("text_in_int.csv", "column 'trip_id'", "int64", "'two'", "'four'")),
    Case("csv-schema-column-missing", read("missing_column.csv", "csv"), SchemaError,
         ("missing_column.csv", "column 'fare'", "['fare']")),
    # a long value is shown cut short (see also test_a_10_mb_string_cell_reads_and_writes_whole)
    Case("csv-long-cell-in-int64-column", read("long_cell_in_int.csv", "csv"), CastError,
         ("long_cell_in_int.csv", "column 'trip_id'", "(1,000 characters)")),
    # ---- reads: json and ndjson ----------------------------------------------------------
    Case("json-zero-bytes", read("empty.json", "json"), ReadError,
         ("empty.json", "'trips'", "empty (0 bytes)")),
    Case("json-scalar", read("scalar.json", "json"), ReadError,
         ("scalar.json", "a number (42)", "not a list of records")),
    Case("json-list-of-scalars", read("list_of_scalars.json", "json"), ReadError,
         ("list_of_scalars.json", "a list of a number (1)")),
    Case("json-dict-of-scalars", read("dict_of_scalars.json", "json"), ReadError,
         ("dict_of_scalars.json", "column 'trip_id' holds a number (1)")),
    Case("json-dict-of-scalars-orient-records",
         read("dict_of_scalars.json", "json", options={"orient": "records"}), ReadError,
         ("dict_of_scalars.json", "orient 'records' expects a list of records, got an object")),
    Case("json-records-with-a-scalar", read("records_with_scalar.json", "json"), ReadError,
         ("records_with_scalar.json", "item 1 is a number (5)")),
    Case("json-truncated", read("truncated.json", "json"), ReadError,
         ("truncated.json", "not valid JSON at line 1, column 46")),
    Case("json-latin1-as-utf8", read("latin1.json", "json", {"city": "object"}), ReadError,
         ("latin1.json", "not utf-8 text", "options.encoding")),
    Case("ndjson-bad-line", read("bad_line.ndjson", "ndjson"), ReadError,
         ("bad_line.ndjson", "'trips'", "line 2 is not valid JSON")),
    Case("json-lines-bad-line", read("bad_line.ndjson", "json", options={"lines": True}),
         ReadError, ("bad_line.ndjson", "line 2 is not valid JSON")),
    # ---- path templates: values may not leave the configured folder ----------------------
    Case("template-dotdot",
         read("good.csv", "csv", file_path="data/{x}.csv", x="../../etc/passwd"), TemplateError,
         ("{x}", "'../../etc/passwd'", "'trips'")),
    Case("template-absolute",
         read("good.csv", "csv", file_path="data/{x}.csv", x="/etc/passwd"), TemplateError,
         ("{x}", "'/etc/passwd'")),
    Case("template-dotdot-percent-encoded",
         read("good.csv", "csv", file_path="data/{x}.csv", x="%2e%2e/%2e%2e/etc/passwd"),
         TemplateError, ("{x}", "%2e%2e")),
    Case("template-slash-percent-encoded",
         read("good.csv", "csv", file_path="data/{x}.csv", x="..%2F..%2Fetc%2Fpasswd"),
         TemplateError, ("{x}", "..%2F..%2F")),
    Case("template-double-encoded",
         read("good.csv", "csv", file_path="data/{x}.csv", x="%252e%252e%252fetc"),
         TemplateError, ("{x}", "%252e")),
    Case("template-backslashes",
         read("good.csv", "csv", file_path="data/{x}.csv", x="..\\..\\windows"), TemplateError,
         ("{x}", "windows")),
    Case("template-home-folder",
         read("good.csv", "csv", file_path="{x}.csv", x="~/secrets"), TemplateError,
         ("{x}", "home folder", "~/secrets")),
    Case("template-nul-byte",
         read("good.csv", "csv", file_path="data/{x}.csv", x="good\x00.txt"), TemplateError,
         ("{x}",)),
    Case("template-value-missing", read("good.csv", "csv", file_path="data/{x}.csv"),
         TemplateError, ("{x}", "'trips'", "x=... in Python", "--arg x=...")),
    # ---- writes: nothing is left behind --------------------------------------------------
    Case("write-template-dotdot",
         write(GOOD, file_path="out/{x}.parquet", x="../../etc/passwd"), TemplateError,
         ("{x}", "'../../etc/passwd'"), out="out"),
    Case("write-template-percent-encoded",
         write(GOOD, file_path="out/{x}.parquet", x="%2e%2e%2f%2e%2e%2fetc"), TemplateError,
         ("{x}", "%2e%2e%2f"), out="out"),
    Case("write-frame-missing-schema-column", write({"trip_id": [1, 2]}), SchemaError,
         ("'trips'", "column 'fare'", "['fare']"), out="out"),
    Case("write-text-in-int64-column", write({"trip_id": ["1", "two"], "fare": [1.0, 2.0]}),
         CastError, ("'trips'", "column 'trip_id'", "'two'"), out="out"),
    Case("write-validation-fails",
         write({"trip_id": [1, 1], "fare": [1.0, 2.0]}, {**UNIQUE_ID, "fare": "float64"}),
         ValidationError, ("'trips'", "has_unique_values", "column 'trip_id'"), out="out"),
    Case("write-destination-folder-is-a-file", write_into_file, WriteError,
         ("'trips'", "blocker", "is a file")),
]  # fmt: skip


_DYNIO_DIRS = (str(Path(dynio.__file__).parent), str(Path(dynio.engine.__file__).parent))


def _raised_by_dynio(exc: BaseException) -> bool:
    """Whether an exception was raised in dynio's own code (its text is dynio's, then)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename.startswith(_DYNIO_DIRS)


def _own_words(exc: DynioError) -> list[str]:
    """The words of dynio's sentence: not quoted names or values, not a dependency's words."""
    message = re.sub(r"'[^']*'", "", exc.message)
    message = re.sub(r"^cannot (read|write) \w+:", "", message)
    words = re.findall(r"[A-Za-z]{2,}", message)
    cause = exc.__cause__
    if cause is not None and not _raised_by_dynio(cause):
        theirs = set(re.findall(r"[A-Za-z]{2,}", first_line(cause)))
        words = [w for w in words if w not in theirs]
    return words


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("case", CASES, ids=[c.id if isinstance(c, Case) else None for c in CASES])
def test_bad_input_is_refused_clearly(case: Case, corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(DynioError) as info:
        case.run(corpus, tmp_path)
    exc = info.value
    assert type(exc) is case.expected, f"{type(exc).__name__}: {exc}"
    message = str(exc)
    missing = [n for n in case.names if n not in message]
    assert not missing, f"{missing} not in: {message}"
    assert len(_own_words(exc)) >= 3, f"a dependency's words, not dynio's: {message}"
    assert "Traceback" not in message
    if not isinstance(exc, ValidationError):  # the report lists one failed rule per line
        assert "\n" not in message, message
    assert len(message) < 2000, f"{len(message)} characters"
    if case.out is not None:
        assert _files_under(tmp_path / case.out) == []


def test_every_corpus_file_has_a_case() -> None:
    """A file added to ``tests/bad_input`` without a case would test nothing."""
    runs = [c.run if isinstance(c, Case) else c.values[0].run for c in CASES]
    used = {r.file for r in runs if isinstance(r, Load | Read)}
    used |= {"needs_variable.yaml", "malformed.yaml", "unknown_column_key.yaml"}  # via configs
    on_disk = {
        p.name for folder in ("config", "schemas", "data") for p in (CORPUS / folder).iterdir()
    }
    assert on_disk - used == set()


# ----------------------------------------------------------------------- huge strings read fine


def test_a_10_mb_string_cell_reads_and_writes_whole(tmp_path: Path) -> None:
    """A huge cell is data, not an error: it reads whole and writes back unchanged."""
    big = "é" * 5_000_000  # 10 MB of UTF-8
    (tmp_path / "huge.csv").write_text(f"trip_id,note\n1,{big}\n2,short\n", encoding="utf-8")
    schema = _schema({"trip_id": "int64", "note": "object"})
    csv_env = {"type": "local", "local": {"file_path": "huge.csv", "file_type": "csv"}}
    frame = _catalog(tmp_path, csv_env, schema).read("trips")
    assert frame["note"].tolist() == [big, "short"]
    pq_env = {"type": "local", "local": {"file_path": "huge.parquet", "file_type": "parquet"}}
    out = _catalog(tmp_path, pq_env, schema)
    out.write("trips", frame)
    assert out.read("trips")["note"].tolist() == [big, "short"]


def test_a_huge_value_that_does_not_fit_its_column_is_a_cast_error(tmp_path: Path) -> None:
    """The error names the column and a cut of the value; redacting the backend's message,
    which quotes the whole value, once took minutes on a 10 kB word (a cubic pattern)."""
    huge = "x" * 1_000_000
    (tmp_path / "h.csv").write_text(f"trip_id,fare\n1,2.5\n{huge},3.5\n")
    env = {"type": "local", "local": {"file_path": "h.csv", "file_type": "csv"}}
    with pytest.raises(CastError) as info:
        _catalog(tmp_path, env, _schema(SCHEMA)).read("trips")
    assert info.value.column == "trip_id"
    assert len(str(info.value)) < 1_000


def test_a_long_offending_value_is_cut_after_its_secrets_are_masked(tmp_path: Path) -> None:
    """A cut secret would no longer match the redactor: the value is masked first, then cut."""
    secret = "S3cr3t-" + "k" * 70
    (tmp_path / "s.csv").write_text(f"trip_id,fare\n1,2.5\n{secret}-tail,3.5\n")
    env = {
        "type": "local",
        "local": {"file_path": "s.csv", "file_type": "csv"},
        "options": {"storage_options": {"token": secret}},
    }
    with pytest.raises(CastError) as info:
        _catalog(tmp_path, env, _schema(SCHEMA)).read("trips")
    assert info.value.values == ["***-tail"]
    assert "S3cr3t" not in str(info.value)


# -------------------------------------------------------------------------- the command line


@dataclass(frozen=True)
class CliCase:
    """One bad input through the CLI: its arguments and the words its one error line holds."""

    id: str
    argv: Callable[[Path, Path], list[str]]
    names: tuple[str, ...]


def _read_argv(data: str, file_type: str, *extra: str) -> Callable[[Path, Path], list[str]]:
    def argv(corpus: Path, scratch: Path) -> list[str]:
        env = {
            "type": "local",
            "local": {"file_path": f"{corpus}/data/{data}", "file_type": file_type},
        }
        doc = {"trips": {"local": env, "schema": _schema(SCHEMA)}}
        path = scratch / "resources.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return ["read", "trips", "--config", str(path), "--env", "local", *extra]

    return argv


CLI_CASES = [
    CliCase("read-truncated-parquet", _read_argv("truncated.parquet", "parquet"),
            ("truncated", "truncated.parquet", "'trips'")),
    CliCase("read-ragged-csv", _read_argv("ragged_too_many.csv", "csv"),
            ("line 3 has 3 fields", "ragged_too_many.csv")),
    CliCase("read-text-in-int64-column", _read_argv("text_in_int.csv", "csv"),
            ("column 'trip_id'", "'two'")),
    CliCase("read-template-traversal",
            _read_argv("{x}.csv", "csv", "--arg", "x=../../etc/passwd"),
            ("{x}", "'../../etc/passwd'")),
    CliCase("read-missing-variable",
            lambda corpus, scratch: [
                "read", "trips", "--config", str(corpus / "config" / "missing_variable.yaml"),
                "--env", "local",
            ],
            ("[[ TRIPS_DIR ]]", "missing_variable.yaml")),
    CliCase("read-malformed-yaml",
            lambda corpus, scratch: [
                "read", "trips", "--config", str(corpus / "config" / "unclosed_bracket.yaml"),
                "--env", "local",
            ],
            ("invalid YAML at line 5", "unclosed_bracket.yaml")),
]  # fmt: skip


# exit codes: 1 data failed its checks, 2 usage, 3 configuration, 4 I/O
CLI_EXIT = {
    "read-truncated-parquet": 4,
    "read-ragged-csv": 4,
    "read-text-in-int64-column": 1,
    "read-template-traversal": 2,
    "read-missing-variable": 3,
    "read-malformed-yaml": 3,
}


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_read_prints_one_line_and_fails(
    case: CliCase, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(case.argv(corpus, tmp_path))
    captured = capsys.readouterr()
    assert code == CLI_EXIT[case.id]
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dynio: error: ")
    missing = [n for n in case.names if n not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"


def test_cli_catalog_check_names_every_bad_file(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``dynio catalog check`` over the whole corpus lists a problem in each of its files."""
    code = cli.main(["catalog", "check", "--config", str(corpus / "config"), "--env", "local"])
    captured = capsys.readouterr()
    assert code == 3
    assert captured.out == ""
    assert "Traceback" not in captured.err
    head, *problems = captured.err.strip().splitlines()
    assert head == f"{len(problems)} problem(s):"
    named = {p.name for p in (corpus / "config").iterdir() if p.name in captured.err}
    assert named == {p.name for p in (corpus / "config").iterdir()}


@pytest.mark.parametrize(
    "name", ["tab_indent.yaml", "schema_file_missing.yaml", "missing_variable.yaml"]
)
def test_cli_catalog_check_one_file(
    name: str, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["catalog", "check", "--config", str(corpus / "config" / name)])
    captured = capsys.readouterr()
    assert code == 3
    lines = captured.err.splitlines()
    assert lines[0] == "1 problem(s):"
    assert len(lines) == 2
    assert name in lines[1]
