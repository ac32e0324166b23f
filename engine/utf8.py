"""A check that Arrow text read by pyarrow's parquet reader is UTF-8.

pyarrow's parquet reader does not check it (apache/arrow#29635), Polars' reader does: the
``arrow`` and ``mixed`` read paths (:mod:`dynio.engine.read_path`) check what pyarrow read, so
text that is not UTF-8 is read through Polars, whose error names the file.

``Array.validate(full=True)`` checks value by value, which on many short values costs more than
the bytes do (the 5 M-row orders table's 345 MiB of text: 0.09-0.10 s). :func:`check_text`
checks the same thing over whole buffers: text that is all ASCII (most text: ids, codes,
e-mail addresses) in one pass (its largest byte; 0.01 s there), other text in that pass and
two more:

1. the bytes of all the values together are UTF-8 (pyarrow's validation of one value, whose
   ASCII fast path runs over the whole buffer), and
2. no value starts inside a character, i.e. with a continuation byte (``0b10xxxxxx``)
   (0.03-0.04 s there with the first).

Together they are exactly "every value is UTF-8": in a valid UTF-8 byte stream every byte that
is not a continuation byte starts a character, so values whose boundaries fall on such bytes are
sequences of whole characters; and a value that is UTF-8 neither starts with a continuation byte
nor ends inside a character (the next value, or the end of the buffer, would then start with one).
The bytes under null slots are checked too (pyarrow's reader leaves them empty).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_text"]

# the top two bits of a UTF-8 continuation byte
_CONTINUATION_MASK = 0xC0
_CONTINUATION = 0x80


def check_text(column: Any) -> None:
    """Check that every value of a ``string`` or ``large_string`` array or chunked array is
    UTF-8 (other types, e.g. string views, are checked value by value).

    Raises:
        pyarrow.ArrowInvalid: Some value is not UTF-8 (as ``validate(full=True)`` raises it).
    """
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        kind = chunk.type
        if pa.types.is_large_string(kind):
            _check_chunk(chunk, np.int64)
        elif pa.types.is_string(kind):
            _check_chunk(chunk, np.int32)
        else:
            chunk.validate(full=True)


def _check_chunk(chunk: Any, offset_type: Any) -> None:
    import pyarrow as pa

    chunk.validate()  # the buffers are as long as the offsets say (cheap: no value is read)
    if len(chunk) == 0:
        return
    _, offsets_buffer, data = chunk.buffers()
    width = np.dtype(offset_type).itemsize
    offsets = np.frombuffer(
        offsets_buffer, dtype=offset_type, count=len(chunk) + 1, offset=chunk.offset * width
    )
    first, end = int(offsets[0]), int(offsets[-1])
    if end == first or data is None:
        return
    if np.any(offsets[1:] < offsets[:-1]):
        chunk.validate(full=True)  # offsets out of order: pyarrow says what is wrong
        return
    if int(np.frombuffer(data, dtype=np.uint8, count=end - first, offset=first).max()) < 0x80:
        return  # ASCII (one pass, no value can start inside a character): UTF-8
    whole = pa.LargeStringArray.from_buffers(
        1, pa.py_buffer(np.array([0, end - first], dtype=np.int64)), data.slice(first, end - first)
    )
    whole.validate(full=True)
    # the values that start before the end (offsets never decrease): an empty value's offset
    # is the next value's, so every boundary inside the buffer is looked at once at least
    starting = int(np.searchsorted(offsets, end, side="left"))
    firsts = np.frombuffer(data, dtype=np.uint8)[offsets[:starting]]
    if np.any((firsts & _CONTINUATION_MASK) == _CONTINUATION):
        row = int(np.argmax((firsts & _CONTINUATION_MASK) == _CONTINUATION))
        raise pa.ArrowInvalid(f"invalid UTF-8 text: value {row} starts inside a character")
