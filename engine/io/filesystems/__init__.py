"""Remote locations and how to reach them: URLs, storage options, clients, retries, errors.

One storage-options mapping per environment says how to reach a store (YAML
``options.storage_options``, or a catalog-level ``credentials:`` entry the environment names).
Its keys are fsspec's names (``key``, ``secret``, ``token``, ``endpoint_url``, ``region`` …);
the names Polars/object_store and pandas use are accepted too (``aws_access_key_id``,
``aws_endpoint_url``, ``client_kwargs: {endpoint_url: …}`` …). With no mapping every client uses
its default credential chain (environment variables, profiles, instance metadata).

The package is split by responsibility:

- :mod:`~dynio.engine.io.filesystems.backends`: the registry of stores by URL scheme, the
  option names each accepts, :class:`Location`;
- :mod:`~dynio.engine.io.filesystems.options`: the options in each client's form (Polars,
  fsspec, DuckDB) and the fsspec client itself (:func:`filesystem`);
- :mod:`~dynio.engine.io.filesystems.retries`: :class:`RetryPolicy`, :func:`is_transient`,
  :class:`Retrier` (every retry within the operation's deadline);
- :mod:`~dynio.engine.io.filesystems.errors`: :func:`error_for`, backend failures as dynio
  errors;
- :mod:`~dynio.engine.io.filesystems.store`: :class:`Store`, one location's client with all of
  the above, and the listing of a prefix or glob.

Secret values (keys, tokens, SAS tokens, connection strings) never reach an error, a log line or
a span: :func:`secret_values` lists them in every spelling and every message goes through
:func:`dynio.engine.telemetry.redact`.
"""

from __future__ import annotations

from dynio.engine.io.filesystems.backends import (
    BACKENDS,
    Backend,
    Location,
    backend_for,
    is_remote,
    parse_location,
)
from dynio.engine.io.filesystems.errors import endpoint_of, error_for
from dynio.engine.io.filesystems.options import (
    check_storage_options,
    duckdb_register,
    duckdb_secret_sql,
    filesystem,
    fsspec_options,
    normalize_storage_options,
    polars_options,
    polars_timeouts,
    secret_values,
)
from dynio.engine.io.filesystems.retries import (
    DEFAULT_RETRIES,
    GaveUp,
    Retrier,
    RetryPolicy,
    is_transient,
    retry_policy,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_RETRIES",
    "Backend",
    "GaveUp",
    "Location",
    "Retrier",
    "RetryPolicy",
    "backend_for",
    "check_storage_options",
    "duckdb_register",
    "duckdb_secret_sql",
    "endpoint_of",
    "error_for",
    "filesystem",
    "fsspec_options",
    "is_remote",
    "is_transient",
    "normalize_storage_options",
    "parse_location",
    "polars_options",
    "polars_timeouts",
    "retry_policy",
    "secret_values",
]
