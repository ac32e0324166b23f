"""Text formats' shared helpers: reading the head of a file, and saying why bytes are not the
declared encoding (a byte-order mark, NUL bytes, a byte that does not decode)."""

from __future__ import annotations

import codecs
import io
import os
import re

from dynio.engine.errors import first_line

__all__ = ["head", "is_decode_failure", "text_encoding_problem", "transcode", "undecodable"]

# how much of a file a failure's explanation may look at: it runs only once a read has failed,
# but a multi-gigabyte file must not keep the user waiting for a sentence
_EXPLAIN_BYTES = 64 * 1024 * 1024
_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def head(path: str, size: int = _EXPLAIN_BYTES) -> bytes:
    """The first ``size`` bytes of a local file (what an explanation may look at)."""
    with open(path, "rb") as fh:
        return fh.read(size)


# how Polars' text readers say the bytes are not UTF-8 (CSV, NDJSON, JSON), at the start of
# their message: a message quoting a value (which may be any text) is not one of these
_DECODE_FAILURE = re.compile(
    r"^(invalid utf-?8|stream did not contain valid utf-?8|invalidutf8)", re.IGNORECASE
)


def is_decode_failure(exc: BaseException) -> bool:
    """Whether a reader failed because its text is not UTF-8."""
    return bool(_DECODE_FAILURE.match(first_line(exc)))


def text_encoding_problem(path: str, encoding: str = "utf-8") -> str | None:
    """Why a local text file is not ``encoding`` text (a byte-order mark, NUL bytes, a byte
    that does not decode), or ``None`` when its start decodes cleanly or it cannot be opened.
    """
    if "://" in path or not os.path.isfile(path):
        return None
    raw = head(path)
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf8", "utf-8", "utf-8-sig"):
        for bom, name in _BOMS.items():  # UTF-32's mark begins with UTF-16's: longest first
            if raw.startswith(bom):
                return (
                    f"the file is {name} text (it starts with a {name} byte-order mark), not"
                    f" UTF-8; set options.encoding: {name.lower()}"
                )
        if b"\x00" in raw[:4096]:
            return (
                "the file holds NUL bytes: it is UTF-16/32 text or binary, not UTF-8 text;"
                " set options.encoding to the file's encoding"
            )
    try:
        codec = codecs.lookup(enc)
    except LookupError:
        return None
    try:
        if len(raw) < _EXPLAIN_BYTES:
            raw.decode(codec.name)
        else:  # only the start was read: a character may be cut at the end
            codec.incrementaldecoder().decode(raw, final=False)
    except UnicodeDecodeError as exc:
        return undecodable(raw, exc, codec.name)
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        return f"the file is not {codec.name} text ({exc}); set options.encoding to its encoding"
    return None


def undecodable(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    """Where ``raw`` stops decoding as ``encoding``, as a sentence."""
    line = raw.count(b"\n", 0, exc.start) + 1
    return (
        f"the file is not {encoding} text (byte 0x{raw[exc.start]:02x} on line {line} does not"
        " decode); set options.encoding to the file's encoding, e.g. latin-1"
    )


def transcode(path: str, encoding: str) -> io.BytesIO:
    """A local file in ``encoding`` as UTF-8 bytes (for readers that take UTF-8 only)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(undecodable(raw, exc, encoding)) from exc
    except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
        raise ValueError(f"the file is not {encoding} text ({exc})") from exc
    return io.BytesIO(text.encode("utf-8"))
