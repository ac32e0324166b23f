"""Drop-in pandas readers: ``dynio.pandas.read_parquet/read_csv/read_table/read_json/read_sql``.

Change the import, keep the call::

    import dynio.pandas as pd_fast

    df = pd_fast.read_parquet("orders.parquet", columns=["id", "amount"],
                              filters=[("ts", ">=", cutoff)])
    df = pd_fast.read_csv("orders.csv", parse_dates=["ts"])
    df = pd_fast.read_json("events.ndjson", lines=True)

Each reader accepts pandas' signature and returns what pandas returns for the same call (values,
dtypes, index and column labels). Calls it can serve exactly go through Polars and Arrow (parallel
parsing, projection and filters pushed into the scan, row groups pruned by their statistics) and
are handed to pandas by pandas' own Arrow conversion. Anything the fast path cannot honour exactly
(an argument it does not implement, a remote or open file, a file whose contents pandas would read
in a way the fast path does not reproduce) is read by pandas itself; the reason is logged at DEBUG
level on the ``dynio.pandas`` logger. Nothing is ignored.

``read_csv``/``read_table`` take the fast path only where it is expected to win (see
:func:`csv_route`; on small files and without ``parse_dates`` pandas' own C parser is as fast),
and :func:`last_read` tells which reader served the last call and why::

    df = pd_fast.read_csv("orders.csv", parse_dates=["ts"])
    pd_fast.last_read()   # ReadPath(function='read_csv', reader='polars', reason=None)

One deliberate difference: ``read_json`` parses decimal numbers exactly (correctly rounded), as
pandas does with ``precise_float=True``, on both paths; pandas' default parser can be one unit in
the last place off (it reads ``0.3`` as ``0.30000000000000004``). Pass ``precise_float=False`` to
get pandas' default parser (pandas then reads the call).

``read_sql`` is :func:`dynio.pandas_sql.read_sql` (SQL through Arrow; drivers load on first use).
"""

from dynio.pandas._csv import read_csv, read_table
from dynio.pandas._csv_route import POLARS_MIN_BYTES, ReadPath, csv_route, last_read
from dynio.pandas._json import read_json
from dynio.pandas._parquet import read_parquet
from dynio.pandas_sql import read_sql

__all__ = [
    "POLARS_MIN_BYTES",
    "ReadPath",
    "csv_route",
    "last_read",
    "read_csv",
    "read_json",
    "read_parquet",
    "read_sql",
    "read_table",
]
