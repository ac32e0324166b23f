"""The promises every source kind makes, as a test suite a kind subclasses (pytest).

fsspec's idea of abstract tests: :class:`SourceContract` holds the tests; a kind's test module
subclasses it, says what the kind can do (:class:`Capabilities`) and gives a ``place`` fixture
returning a :class:`Place`, which knows how to write the YAML environment of a resource of the
kind (and, for read-only kinds, how to put data there). Every test then runs through the public
:class:`dynio.Catalog` from YAML, as a user would::

    import pytest
    from dynio.testing.contract import Capabilities, Place, SourceContract

    class BoxPlace(Place):
        def __init__(self, root):
            self.root = root

        def env(self, name, *, template=False):
            box = f"{name}-{{day}}.jsonl" if template else f"{name}.jsonl"
            return {"type": "jsonbox", "jsonbox": {"box": f"{self.root}/{box}"}}

    class TestJsonBox(SourceContract):
        capabilities = Capabilities(templates=True)

        @pytest.fixture
        def place(self, tmp_path):
            return BoxPlace(tmp_path)

The promises: a read gives back what was written (values, and dtypes through the schema), from
pandas, Polars and Arrow input; projection; filters, with the plan's record saying where they
were applied; ``{placeholder}`` templates; the write modes the kind supports; a failing rule
writes nothing; a missing location, bad credentials, a refused connection and (for networked
kinds) a server that never answers are :class:`~dynio.errors.DynioError` subclasses naming the
resource and environment, with no secret in their text; reading the same resource twice gives
the same frame.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import yaml

import dynio
from dynio.engine.errors import DynioError, ReadError, TemplateError, ValidationError

__all__ = [
    "COLUMNS",
    "ENV",
    "REPLACING",
    "SMALL_TIMEOUTS",
    "Capabilities",
    "Place",
    "SilentServer",
    "SourceContract",
    "refused_port",
    "sample",
    "silent_server",
]

ENV = "contract"
"""The environment name every contract catalog uses."""

COLUMNS: Mapping[str, str] = {
    "i": "int64",
    "f": "float64",
    "s": "str",
    "t": "datetime64[ns]",
    "b": "bool",
}
"""The schema of the contract's frames (a kind may narrow it in :class:`Capabilities`)."""

REPLACING = ("replace", "overwrite")
"""The ``write_mode`` spellings of "replace what is there"."""

SMALL_TIMEOUTS: Mapping[str, float] = {"connect": 1, "read": 0.5, "deadline": 2}
"""``timeouts`` a :meth:`Place.silent` environment may use, so that the test ends soon."""


def sample(start: int = 0, n: int = 4, columns: Mapping[str, str] = COLUMNS) -> pd.DataFrame:
    """A frame of ``columns`` (a subset of :data:`COLUMNS`) with a null float where allowed."""
    ids = list(range(start, start + n))
    full = {
        "i": pd.Series(ids, dtype="int64"),
        "f": pd.Series([x * 1.5 if x % 3 else None for x in ids], dtype="float64"),
        "s": pd.Series([f"v{x}" for x in ids], dtype="str"),
        "t": pd.Series(
            pd.to_datetime([f"2024-01-{1 + x % 28:02d} 10:{x % 60:02d}" for x in ids])
        ).astype("datetime64[ns]"),
        "b": pd.Series([x % 2 == 0 for x in ids], dtype="bool"),
    }
    return pd.DataFrame({c: full[c] for c in columns})


@dataclass(frozen=True)
class Capabilities:
    """What a kind can do; the tests of what it cannot are skipped with the reason given.

    Attributes:
        writes: Resources of the kind can be written (``False``: read-only, data is put in
            place with :meth:`Place.put`).
        modes: The ``write_mode`` option values it supports: ``append`` is tested as "a second
            write adds its rows", ``replace``/``overwrite`` as "a second write replaces the
            first" (when the default mode does not already).
        replaces: A second write in the default mode replaces the first (``False`` for kinds
            that append by default: table formats, message topics).
        templates: Locations may hold ``{placeholder}`` fields filled from call arguments.
        networked: It talks to a server: the unresponsive-server test runs.
        pushdown: It takes filters into its own scan: the plan must record a pushed filter.
        columns: The schema the kind round-trips exactly (a subset of :data:`COLUMNS`).
        skip: Test names (without ``test_``) the kind cannot run, with the reason.
    """

    writes: bool = True
    modes: frozenset[str] = frozenset()
    replaces: bool = True
    templates: bool = True
    networked: bool = False
    pushdown: bool = False
    columns: Mapping[str, str] = field(default_factory=lambda: dict(COLUMNS))
    skip: Mapping[str, str] = field(default_factory=dict)


class Place:
    """Where a kind's resources live in a test: the YAML environment of each one.

    Subclass and implement :meth:`env`; the other hooks default to "not applicable", which
    skips their tests.
    """

    secrets: tuple[str, ...] = ()
    """Secret values appearing in the environments (passwords, keys): never in an error."""

    defects: Mapping[str, str] = {}
    """Known defects of the kind here: test name (without ``test_``) -> reason. Those tests are
    expected to fail (``xfail``, strict: once fixed, the entry must go)."""

    def env(self, name: str, *, template: bool = False) -> dict[str, Any]:
        """The YAML environment of a resource stored under ``name`` (a fresh word per test).

        With ``template`` its location must contain the placeholder ``{day}``.
        """
        raise NotImplementedError

    def put(self, name: str, frame: pd.DataFrame, *, template: bool = False, **args: Any) -> None:
        """Store ``frame`` where :meth:`env` points (read-only kinds only)."""
        raise NotImplementedError

    def missing(self, name: str) -> dict[str, Any] | None:
        """An environment whose location does not exist (default: ``env(name)`` unwritten)."""
        return self.env(name)

    def bad_credentials(self, name: str) -> dict[str, Any] | None:
        """An environment with credentials the server refuses, if the kind takes any.

        The connection hooks may return ``None`` for all but one of a kind's parametrised
        places: their promises do not depend on, say, the file format."""
        return None

    def refused(self, name: str, port: int) -> dict[str, Any] | None:
        """An environment whose server is ``127.0.0.1:port``, where nothing listens."""
        return None

    def silent(self, name: str, server: SilentServer) -> dict[str, Any] | None:
        """An environment whose server is ``server`` (accepts, never answers), with small
        timeouts (:data:`SMALL_TIMEOUTS`)."""
        return None


# ------------------------------------------------------------------------------- servers


@dataclass
class SilentServer:
    """A loopback server that accepts connections, reads what it is sent and never answers."""

    host: str
    port: int
    _conns: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"


def _drain(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while conn.recv(1 << 16):
            pass


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    """Run a :class:`SilentServer` for the ``with`` block (its connections closed after)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = SilentServer("127.0.0.1", listener.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            server._conns.append(conn)
            threading.Thread(target=_drain, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for conn in server._conns:
            conn.close()
        thread.join(timeout=5)


def refused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------------- suite


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("i", ignore_index=True) if "i" in frame.columns else frame


class SourceContract:
    """The tests every source kind passes. Subclass it in a test module (its name starting with
    ``Test``), set :attr:`capabilities` and override the ``place`` fixture."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    @pytest.fixture
    def place(self) -> Place:
        """Override: the :class:`Place` of this kind's resources for one test."""
        raise NotImplementedError("a SourceContract subclass overrides the 'place' fixture")

    @pytest.fixture(autouse=True)
    def _known_defects(self, request: pytest.FixtureRequest) -> None:
        if "place" not in request.fixturenames:
            return
        place: Place = request.getfixturevalue("place")
        test = getattr(request.node, "originalname", request.node.name).removeprefix("test_")
        reason = place.defects.get(test)
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))

    # ---------------------------------------------------------------------- helpers

    def _skip_unless(self, test: str, *needs: tuple[bool, str]) -> None:
        reason = self.capabilities.skip.get(test)
        if reason:
            pytest.skip(reason)
        for ok, why in needs:
            if not ok:
                pytest.skip(why)

    def _catalog(
        self,
        tmp_path: Path,
        envs: Mapping[str, dict[str, Any] | None],
        rules: Mapping[str, Any] | None = None,
    ) -> dynio.Catalog:
        doc: dict[str, Any] = {}
        for name, body in envs.items():
            columns: dict[str, Any] = {c: {"type": t} for c, t in self.capabilities.columns.items()}
            for col, rule in (rules or {}).items():
                columns[col]["validations"] = rule
            doc[name] = {ENV: body, "schema": {"name": name, "columns": columns}}
        path = tmp_path / f"contract-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return dynio.Catalog.from_yaml(path, env=ENV, strict=True)

    def _frame(self, start: int = 0, n: int = 4) -> pd.DataFrame:
        return sample(start, n, self.capabilities.columns)

    @staticmethod
    def _name() -> str:
        return f"r{uuid.uuid4().hex[:10]}"

    def _store(self, cat: dynio.Catalog, place: Place, name: str, data: Any, **args: Any) -> None:
        if self.capabilities.writes:
            cat.write(name, data, **args)
        else:
            place.put(name, data, template=bool(args), **args)

    def _names_context(self, err: DynioError, name: str, place: Place) -> None:
        assert err.resource == name, f"{type(err).__name__} names resource {err.resource!r}"
        assert err.env == ENV, f"{type(err).__name__} names environment {err.env!r}"
        text = str(err)
        assert name in text, text
        for secret in place.secrets:
            assert secret not in text, "a secret appears in the error's text"
            assert all(secret not in str(a) for a in err.args), "a secret in the error's args"

    # ---------------------------------------------------------------------- round trips

    def test_round_trip_keeps_values_and_dtypes(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("round_trip_keeps_values_and_dtypes")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        self._store(cat, place, name, self._frame(0, 6))
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), self._frame(0, 6))
        polars = cat.read_polars(name).sort("i")
        assert polars.equals(pl.from_pandas(self._frame(0, 6))), polars
        result = cat.read_result(name)
        assert result.info.resource == name
        assert result.info.env == ENV
        for secret in place.secrets:
            assert secret not in result.info.location

    @pytest.mark.parametrize("flavour", ["pandas", "polars", "polars-lazy", "arrow"])
    def test_writes_take_pandas_polars_and_arrow(
        self, place: Place, tmp_path: Path, flavour: str
    ) -> None:
        self._skip_unless(
            "writes_take_pandas_polars_and_arrow", (self.capabilities.writes, "read-only kind")
        )
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        df = self._frame(3, 5)
        data: Any = df
        if flavour == "arrow":
            data = pa.Table.from_pandas(df, preserve_index=False)
        elif flavour.startswith("polars"):
            data = pl.from_pandas(df)
            data = data.lazy() if flavour == "polars-lazy" else data
        info = cat.write(name, data).info
        assert info.rows == 5
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), df)

    def test_reading_twice_gives_the_same_frame(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("reading_twice_gives_the_same_frame")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        self._store(cat, place, name, self._frame(0, 5))
        resource = cat.resource(name)
        first, second = resource.read(), resource.read()
        pd.testing.assert_frame_equal(_sorted(first), _sorted(second))
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), self._frame(0, 5))
        lazy = resource.scan()
        assert isinstance(lazy, pl.LazyFrame)
        assert lazy.collect().height == lazy.collect().height == 5
        assert sorted(lazy.filter(pl.col("i") > 2).collect()["i"].to_list()) == [3, 4]

    # ------------------------------------------------------------ projection and filters

    def test_projection(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("projection")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        self._store(cat, place, name, self._frame(0, 4))
        result = cat.read_result(name, columns=["s", "i"])
        assert result.frame.columns == ["s", "i"]
        assert sorted(result.frame["i"].to_list()) == [0, 1, 2, 3]
        assert result.info.columns is not None
        assert set(result.info.columns) == {"s", "i"}

    def test_filters_and_their_record(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("filters_and_their_record")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        self._store(cat, place, name, self._frame(0, 10))
        filters = [("i", ">=", 7), ("s", "!=", "v8")]
        result = cat.read_result(name, columns=["s", "i"], filters=filters)
        assert sorted(result.frame["i"].to_list()) == [7, 9]
        info = result.info
        # the filter was applied somewhere, and the record says where
        assert info.filters_pushed is not None or info.filters_residual is not None
        if info.pushed.get("predicates"):
            assert info.filters_pushed is not None, "pushed predicates but no pushed filter"
        if info.filters_pushed is None:
            assert info.filters_residual is not None, "a filter applied, none recorded"
        if self.capabilities.pushdown:
            assert info.filters_pushed is not None, "the kind pushes filters; none recorded"
        if "b" in self.capabilities.columns:
            odd = cat.read(name, columns=["i"], filters=[("b", "==", False)])
            assert sorted(odd["i"].tolist()) == [1, 3, 5, 7, 9]
        if "t" in self.capabilities.columns:  # a string compared with a datetime column
            early = cat.read(name, columns=["i"], filters=[("t", "<", "2024-01-03")])
            assert sorted(early["i"].tolist()) == [0, 1]

    def test_filter_matching_nothing_keeps_dtypes(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("filter_matching_nothing_keeps_dtypes")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        self._store(cat, place, name, self._frame(0, 4))
        out = cat.read(name, filters=[("i", ">", 1000)])
        assert len(out) == 0
        assert out.dtypes.to_dict() == self._frame().dtypes.to_dict()

    # --------------------------------------------------------------------- templates

    def test_templates(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("templates", (self.capabilities.templates, "no templated locations"))
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name, template=True)})
        self._store(cat, place, name, self._frame(0, 2), day="2024-03-01")
        self._store(cat, place, name, self._frame(10, 3), day="2024-03-02")
        pd.testing.assert_frame_equal(_sorted(cat.read(name, day="2024-03-02")), self._frame(10, 3))
        pd.testing.assert_frame_equal(_sorted(cat.read(name, day="2024-03-01")), self._frame(0, 2))
        with pytest.raises(TemplateError) as err:
            cat.read(name)
        self._names_context(err.value, name, place)

    # ------------------------------------------------------------------- write modes

    def _with_mode(self, env: dict[str, Any], mode: str | None) -> dict[str, Any]:
        if mode is None:
            return env
        return {**env, "options": {**env.get("options", {}), "write_mode": mode}}

    def test_a_second_write_replaces_the_first(self, place: Place, tmp_path: Path) -> None:
        caps = self.capabilities
        mode = next((m for m in REPLACING if m in caps.modes), None)
        self._skip_unless(
            "a_second_write_replaces_the_first",
            (caps.writes, "read-only kind"),
            (caps.replaces or mode is not None, "writes of this kind add to what is there"),
        )
        name = self._name()
        env = self._with_mode(place.env(name), None if caps.replaces else mode)
        cat = self._catalog(tmp_path, {name: env})
        cat.write(name, self._frame(0, 5))
        cat.write(name, self._frame(100, 2))
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), self._frame(100, 2))

    def test_append_mode_adds_rows(self, place: Place, tmp_path: Path) -> None:
        caps = self.capabilities
        self._skip_unless(
            "append_mode_adds_rows",
            (caps.writes, "read-only kind"),
            ("append" in caps.modes or not caps.replaces, "no append mode"),
        )
        name = self._name()
        env = self._with_mode(place.env(name), "append" if "append" in caps.modes else None)
        cat = self._catalog(tmp_path, {name: env})
        cat.write(name, self._frame(0, 3))
        cat.write(name, self._frame(3, 2))
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), self._frame(0, 5))

    def test_a_failing_rule_writes_nothing(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("a_failing_rule_writes_nothing", (self.capabilities.writes, "read-only"))
        name, fresh = self._name(), self._name()
        rule = {"i": {"is_greater_than_or_equal": {"options": {"threshold": 0}}}}
        cat = self._catalog(tmp_path, {name: place.env(name), fresh: place.env(fresh)}, rule)
        bad = self._frame(0, 3)
        bad.loc[1, "i"] = -5
        with pytest.raises(ValidationError) as err:
            cat.write(fresh, bad)
        self._names_context(err.value, fresh, place)
        with pytest.raises(ReadError):  # nothing was created
            cat.read(fresh)
        cat.write(name, self._frame(0, 3))
        with pytest.raises(ValidationError):
            cat.write(name, bad)
        pd.testing.assert_frame_equal(_sorted(cat.read(name)), self._frame(0, 3))

    # ------------------------------------------------------------------------ errors

    def test_a_missing_location_is_a_read_error(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("a_missing_location_is_a_read_error")
        name = self._name()
        env = place.missing(name)
        if env is None:
            pytest.skip("every location of this kind exists")
        cat = self._catalog(tmp_path, {name: env})
        with pytest.raises(ReadError) as err:
            cat.read(name)
        self._names_context(err.value, name, place)

    def test_bad_credentials_are_a_dynio_error(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("bad_credentials_are_a_dynio_error")
        name = self._name()
        cat = self._catalog(tmp_path, {name: place.env(name)})
        if self.capabilities.writes:
            cat.write(name, self._frame(0, 2))
        env = place.bad_credentials(name)
        if env is None:
            pytest.skip(
                "the place gives no environment with bad credentials (none taken, or run once)"
            )
        bad = self._catalog(tmp_path, {name: env})
        with pytest.raises(DynioError) as err:
            bad.read(name)
        self._names_context(err.value, name, place)
        if self.capabilities.writes:
            with pytest.raises(DynioError) as werr:
                bad.write(name, self._frame(0, 2))
            self._names_context(werr.value, name, place)

    def test_a_refused_connection_is_a_dynio_error(self, place: Place, tmp_path: Path) -> None:
        self._skip_unless("a_refused_connection_is_a_dynio_error")
        name = self._name()
        env = place.refused(name, refused_port())
        if env is None:
            pytest.skip("the place gives no environment on a closed port (no server, or run once)")
        cat = self._catalog(tmp_path, {name: env})
        with pytest.raises(DynioError) as err:
            cat.read(name)
        self._names_context(err.value, name, place)
        if self.capabilities.writes:
            with pytest.raises(DynioError) as werr:
                cat.write(name, self._frame(0, 2))
            self._names_context(werr.value, name, place)

    def test_an_unresponsive_server_ends_at_the_deadline(
        self, place: Place, tmp_path: Path
    ) -> None:
        self._skip_unless(
            "an_unresponsive_server_ends_at_the_deadline",
            (self.capabilities.networked, "not a networked kind"),
        )
        name = self._name()
        with silent_server() as server:
            env = place.silent(name, server)
            if env is None:
                pytest.skip("the place gives no environment on a silent server (run once?)")
            cat = self._catalog(tmp_path, {name: env})
            with pytest.raises(DynioError) as err:
                cat.read(name)
            self._said_silence(err.value, name, place, server)
            if self.capabilities.writes:
                with pytest.raises(DynioError) as werr:
                    cat.write(name, self._frame(0, 2))
                self._said_silence(werr.value, name, place, server)

    def _said_silence(self, err: DynioError, name: str, place: Place, server: SilentServer) -> None:
        """The error names the server and the limit that ran out."""
        self._names_context(err, name, place)
        text = str(err)
        assert f"{server.host}:{server.port}" in text, text
        assert "within" in text, text
