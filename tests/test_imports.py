"""House rules on imports: the engine never touches pandas; `import dynio` stays lean."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import dynio

OPTIONAL = ["s3fs", "gcsfs", "connectorx", "duckdb", "adbc_driver_postgresql", "psycopg",
            "opentelemetry.sdk", "tables", "boto3", "botocore", "sqlalchemy", "dask",
            "distributed"]  # fmt: skip


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_import_dynio_loads_no_optional_backend() -> None:
    loaded = _run(
        f"""
        import sys
        import dynio
        dynio.Catalog  # the facade proper, not just the lazy package
        print(",".join(m for m in {OPTIONAL!r} if m in sys.modules))
        """
    )
    assert loaded == ""


def test_import_dynio_is_lazy() -> None:
    out = _run(
        """
        import sys
        import dynio
        print("pandas" in sys.modules, "polars" in sys.modules)
        """
    )
    assert out == "False False"


def test_engine_never_imports_pandas_even_when_reading(tmp_path: Path) -> None:
    data = tmp_path / "t.parquet"
    yaml = tmp_path / "r.yaml"
    yaml.write_text(
        "t:\n  local:\n    type: local\n    local: {file_path: t.parquet}\n"
        "  schema:\n    columns:\n      a: {type: int64, metrics: [Mean]}\n"
        "      b: {type: str, validations: {is_in: {apply: true,"
        " options: {categorical_values: [x, y]}}}}\n"
    )
    # pandas is made unimportable: any engine path that reaches for it fails the test
    loaded = _run(
        f"""
        import sys

        class NoPandas:
            def find_spec(self, name, path=None, target=None):
                if name == "pandas" or name.startswith("pandas."):
                    raise ModuleNotFoundError("pandas is blocked in this test")
                return None

        sys.meta_path.insert(0, NoPandas())
        import polars as pl
        pl.DataFrame({{"a": [1, 2], "b": ["x", "y"]}}).write_parquet({str(data)!r})
        from dynio.engine import execute, loader
        spec = loader.load_catalog({str(yaml)!r}, env="local")
        res = execute.read(spec.resources["t"], "local")
        execute.write(spec.resources["t"], "local", res.frame)
        print(res.frame.height, "pandas" in sys.modules)
        """
    )
    assert loaded == "2 False"


def test_engine_source_has_no_pandas_import() -> None:
    engine = Path(dynio.__file__).resolve().parent.parent / "engine"
    offenders = [
        str(p)
        for p in engine.rglob("*.py")
        if any(
            line.strip().startswith(("import pandas", "from pandas"))
            for line in p.read_text().splitlines()
        )
    ]
    assert offenders == []


def test_import_does_not_configure_logging() -> None:
    out = _run(
        """
        import logging
        before = (list(logging.getLogger().handlers), logging.getLogger().level)
        import dynio
        after = (list(logging.getLogger().handlers), logging.getLogger().level)
        print(before == after, logging.getLogger("dynio.metrics").handlers)
        """
    )
    assert out == "True []"
