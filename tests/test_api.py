"""The engine's read contract (:mod:`dynio.engine.api`): a file a call names is read like a
catalog's resource (the registry's source, projection and filter pushed, the record kept), and
the facade's drop-in readers and the dynamicio layer reach the engine only through it."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dynio.engine import api
from dynio.engine.dtypes import DType, parse_dtype
from dynio.engine.errors import DynioError, SchemaError
from dynio.engine.spec import ColumnSpec, SchemaSpec

ROOT = Path(__file__).resolve().parent.parent


def _dtype(spelling: str) -> DType:
    found = parse_dtype(spelling)
    assert found is not None
    return found


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.parquet"
    pl.DataFrame(
        {"id": [1, 2, 3, 4], "amount": [1.5, 2.5, None, 4.0], "c": list("abcd")}
    ).write_parquet(path)
    return path


def test_a_located_file_is_read_through_the_registry_with_its_pushdown(orders: Path) -> None:
    resource = api.located(orders, "parquet")
    assert resource.envs[api.LOCATED_ENV].source.kind == "local"
    request = api.ReadRequest(columns=("c", "id"), filters=[("id", ">", 2)])
    loaded = api.load(api.bind(resource, request=request), request)
    assert_frame_equal(loaded.frame, pl.DataFrame({"c": ["c", "d"], "id": [3, 4]}))
    assert loaded.info.kind == "local"
    assert loaded.info.files == (str(orders),)
    assert loaded.pushdown.projection
    assert loaded.pushdown.pushed is not None
    assert loaded.pushdown.residual is None
    assert loaded.pushdown.pushed.groups == ((("id", ">", 2),),)


def test_a_located_text_file_parses_to_a_given_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a;b\n1;x\n2;y\n", encoding="utf-8")
    schema = SchemaSpec(None, (ColumnSpec("a", _dtype("int32")), ColumnSpec("b", _dtype("object"))))
    loaded = api.load(api.bind(api.located(path, "csv", options={"separator": ";"}, schema=schema)))
    assert loaded.frame.schema == pl.Schema({"a": pl.Int32(), "b": pl.String()})
    assert loaded.frame["a"].to_list() == [1, 2]


def test_a_located_read_fails_as_a_dynio_error_naming_the_path(orders: Path) -> None:
    request = api.ReadRequest(columns=("nope",))
    with pytest.raises(SchemaError) as caught:
        api.load(api.bind(api.located(orders, "parquet"), request=request), request)
    assert caught.value.resource == str(orders)
    with pytest.raises(DynioError):
        api.load(api.bind(api.located(orders.parent / "gone.parquet", "parquet")))


def test_located_refuses_what_a_local_source_reads_as_a_template_or_pattern(tmp_path: Path) -> None:
    for name in ("a{b}.parquet", "a*.parquet", "a?.parquet"):
        with pytest.raises(ValueError, match="template or pattern"):
            api.located(tmp_path / name, "parquet")
    with pytest.raises(ValueError, match="unknown format"):
        api.located(tmp_path / "x.bin", "nope")
    assert api.located("memory://bucket/x.parquet", "parquet").envs["located"].source.kind == "file"


# modules of the facade that read or check data without a catalog, and what they may not import:
# the engine's planning, execution, sources and formats are reached through dynio.engine.api
_THROUGH_API = [
    ROOT / "facade" / "pandas" / "_parquet.py",
    ROOT / "facade" / "pandas" / "_json.py",
    ROOT / "facade" / "pandas" / "_common.py",
    *sorted((ROOT / "facade" / "compat" / "dynamicio").rglob("*.py")),
]
_INTERNALS = (
    "dynio.engine.execute",
    "dynio.engine.plan",
    "dynio.engine.quality.evaluate",
    "dynio.engine.io",
    "dynio.engine.sources",
)


@pytest.mark.parametrize("path", _THROUGH_API, ids=lambda p: str(p.relative_to(ROOT)))
def test_drop_in_readers_and_the_dynamicio_layer_use_the_read_contract(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    # the registry's description of the kinds (section names, for showing a config) is not
    # a way to read
    described = {"dynio.engine.sources.kind_for", "dynio.engine.sources.all_kinds"}
    assert not sorted(n for n in imported - described if n.startswith(_INTERNALS))


def test_load_takes_the_read_path_choice_when_the_caller_takes_arrow(orders: Path) -> None:
    resource = api.located(orders, "parquet")
    by_polars = api.load(api.bind(resource))
    assert by_polars.info.read_path == "polars"
    assert by_polars.table is None
    by_arrow = api.load(api.bind(resource), arrow=True)
    assert by_arrow.info.read_path == "arrow"  # a tiny, plain file: pyarrow's reader
    assert by_arrow.polars is None
    assert by_arrow.to_arrow().equals(by_polars.to_arrow())
    assert_frame_equal(by_arrow.frame, by_polars.frame)
    # a filter needs the engine's scan, whoever takes the data
    request = api.ReadRequest(columns=("id",), filters=[("id", ">", 2)])
    filtered = api.load(api.bind(resource, request=request), request, arrow=True)
    assert filtered.info.read_path == "polars"
    assert filtered.to_arrow().column("id").to_pylist() == [3, 4]
    # some columns, in the order asked for, on the arrow path
    request = api.ReadRequest(columns=("c", "id"))
    some = api.load(api.bind(resource, request=request), request, arrow=True)
    assert some.info.read_path == "arrow"
    assert some.to_arrow().column_names == ["c", "id"]
