"""``dynio.engine.utf8.check_text`` accepts exactly the text arrays whose every value is UTF-8."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynio.engine.utf8 import check_text

# pieces that make valid and invalid UTF-8 when joined: whole characters of every length, lone
# lead and continuation bytes, overlong forms, surrogates, bytes never valid in UTF-8
_PIECES = [
    b"a",
    b"",
    "é".encode(),
    "€".encode(),
    "😀".encode(),
    b"\xc3",  # a lead byte alone
    b"\xa9",  # a continuation byte alone
    b"\xe2\x82",  # a character cut short
    b"\xf0\x9f\x98",
    b"\xc0\xaf",  # overlong
    b"\xed\xa0\x80",  # a surrogate
    b"\xff",
]
_VALUES = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from(_PIECES), max_size=4).map(b"".join)),
    max_size=30,
)


def _is_utf8(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _as_text(values: list[bytes | None], kind: pa.DataType) -> pa.Array:
    raw = pa.array(values, pa.large_binary() if kind == pa.large_string() else pa.binary())
    return raw.view(kind)


def _accepted(array: pa.Array | pa.ChunkedArray) -> bool:
    try:
        check_text(array)
    except pa.ArrowInvalid:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(
    values=_VALUES,
    kind=st.sampled_from([pa.string(), pa.large_string()]),
    start=st.integers(0, 5),
    stop=st.integers(0, 5),
)
def test_accepts_exactly_the_arrays_whose_values_are_all_utf8(
    values: list[bytes | None], kind: pa.DataType, start: int, stop: int
) -> None:
    array = _as_text(values, kind)
    # a slice: the offsets start inside the buffers, and the bytes outside it are not its own
    sliced = array.slice(min(start, len(values)), max(0, len(values) - start - stop))
    raw = pa.large_binary() if kind == pa.large_string() else pa.binary()
    expected = all(_is_utf8(v) for v in sliced.view(raw).to_pylist())
    assert _accepted(sliced) is expected
    reference = True
    try:
        sliced.validate(full=True)
    except pa.ArrowInvalid:
        reference = False
    assert reference is expected  # pyarrow's own validation agrees (no bytes under nulls here)


def test_a_value_that_starts_inside_a_character_is_refused_though_all_bytes_are_utf8() -> None:
    # b"\xc3" + b"\xa9" is "é": the bytes together are UTF-8, neither value is
    array = _as_text([b"caf\xc3", b"\xa9"], pa.large_string())
    with pytest.raises(pa.ArrowInvalid, match="starts inside a character"):
        check_text(array)


def test_chunked_arrays_are_checked_chunk_by_chunk() -> None:
    good = _as_text([b"ok", "é".encode()], pa.string())
    bad = _as_text([b"fine", b"\xff"], pa.string())
    check_text(pa.chunked_array([good, good]))
    with pytest.raises(pa.ArrowInvalid):
        check_text(pa.chunked_array([good, bad]))


def test_empty_and_all_null_arrays_pass() -> None:
    check_text(pa.array([], pa.large_string()))
    check_text(pa.array([None, None], pa.string()))
    check_text(pa.array(["", ""], pa.large_string()))


def test_string_views_are_checked_value_by_value() -> None:
    check_text(pa.array(["a", "é"], pa.string_view()))


def test_bytes_under_a_null_are_checked_too() -> None:
    # stricter than validate(full=True), which skips null slots; pyarrow's parquet reader leaves
    # them empty, so a refusal here only sends such an array to Polars' reader
    valid = pa.array([True, False], pa.bool_()).buffers()[1]
    offsets = pa.py_buffer(np.array([0, 2, 3], dtype=np.int32))
    array = pa.StringArray.from_buffers(2, offsets, pa.py_buffer(b"ok\xff"), valid)
    array.validate(full=True)
    with pytest.raises(pa.ArrowInvalid):
        check_text(array)
