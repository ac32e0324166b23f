"""Secrets: marked by the YAML fields that hold them, carried as :class:`Secret`, redacted by value.

A value is a secret because of *where* it is configured, never because of what its key or its
text looks like:

- the fields a source kind declares ``secret`` (``db_password``, a Postgres ``uri``);
- the secret settings of clients configured through ``options`` (Kafka's ``sasl.password``,
  ``ssl.key.password``…: :data:`SECRET_CLIENT_OPTIONS`);
- the secret keys of storage options, inline or in a catalog-level ``credentials:`` entry
  (``secret``/``aws_secret_access_key``, ``token``, ``account_key``, ``sas_token``,
  ``connection_string``, ``client_secret``, a service-account key, ``Authorization`` headers…:
  the storage backends' own table, :data:`SECRET_STORAGE_OPTIONS`);
- the password and the signature-like query parameters of a URI (``user:***@``, ``?sig=***``).

The loader wraps these values in :class:`Secret` (a ``str`` whose ``repr`` is ``'***'``, so a
spec, a mapping or a ``{value!r}`` in a message never shows it), and every error, span
attribute, event and exported log record is cleaned of them *by value* (:func:`redact`), in
every spelling a message may use (:func:`secret_spellings`). Column names and other options stay
readable: an upsert ``key: [zone_id]`` is not a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

if TYPE_CHECKING:
    from dynio.engine.sources import SourceKind
    from dynio.engine.spec import SourceSpec

__all__ = [
    "REDACTED",
    "SECRET_STORAGE_OPTIONS",
    "Secret",
    "location_of",
    "mark_secrets",
    "redact",
    "replace_secrets",
    "scrub",
    "secret_spellings",
    "secrets_in",
    "secrets_of",
]

REDACTED = "***"


class Secret(str):
    """A configured secret: the text itself for the code that uses it, ``'***'`` when shown.

    ``repr()`` (and so dict, list and dataclass reprs, and ``{value!r}`` in messages) gives
    ``'***'``; :func:`redact` removes the value from any text that holds it anyway. Libraries
    receive an ordinary ``str`` value (it is one).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)

    def reveal(self) -> str:
        """The value as a plain ``str``."""
        return str.__str__(self)


# storage-option names whose values are secrets, every alias the storage backends accept
# (fsspec's, object_store's, the cloud SDKs' environment names); the rest (endpoint, region,
# project, account name…) are not
SECRET_STORAGE_OPTIONS = frozenset(
    {
        "key", "aws_access_key_id", "access_key_id",
        "secret", "aws_secret_access_key", "secret_access_key",
        "token", "aws_session_token", "session_token",
        "google_service_account", "google_service_account_path",
        "google_application_credentials", "service_account_key", "google_service_account_key",
        "account_key", "azure_storage_account_key", "azure_storage_access_key",
        "sas_token", "azure_storage_sas_token", "azure_storage_sas_key",
        "connection_string", "azure_storage_connection_string",
        "client_secret", "azure_storage_client_secret", "azure_client_secret",
        "password", "passphrase",
    }
)  # fmt: skip
# client settings passed through ``options`` as they are (Kafka's librdkafka, the AWS SDK for
# Athena) whose values are secrets: the clients' own field names, not a pattern
SECRET_CLIENT_OPTIONS = frozenset(
    {
        "sasl.password", "sasl.oauthbearer.client.secret", "ssl.key.password",
        "ssl.keystore.password", "ssl.truststore.password", "ssl.key.pem",
        "sasl_plain_password", "ssl_password",
        "aws_secret_access_key", "aws_session_token", "password",
    }
)  # fmt: skip
# HTTP headers whose values are secrets
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})
# query parameters of signed URLs and DSNs that carry a secret
_SECRET_QUERY = re.compile(
    r"(?i)^(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature"
    r"|x-goog-credential|token|access_token|password|sslpassword|secret|key|api[_-]?key|sas)$"
)

# scheme://user:password@ (a password holding "/" or "@" must be percent-encoded in a URI)
_URI_PASSWORD = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*):(?P<pw>[^@\s/]*)@")
_QUERY_PARAM = re.compile(r"(?P<pre>[?&;](?P<key>[^=&#\s]+)=)(?P<val>[^&#\s]*)")
# ``password=…`` in a backend's own message (libpq, drivers): the last line of defence for
# text dynio did not write; bounded so a long word cannot make it slow
_KEY_VALUE = re.compile(
    r"(?i)(?P<pre>(?<![\w.-])(?:[\w.-]{0,32}?_)?(?:passw(?:or)?d|pwd|secret_access_key"
    r"|client_secret|account_key|sas_token|session_token)['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<val>[^'\"\s,;&})]+)"
)
_WHOLE_URI = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*://")
_MIN_SECRET = 4  # shorter values would redact ordinary words; URIs are handled by shape


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each value in ``secrets`` and each URI password or signature replaced by
    ``***`` (and ``password=…`` pairs of backend messages)."""
    # the literal secrets first: a pattern may take only the start of one
    out = replace_secrets(text, secrets)
    if "://" in out:
        out = _URI_PASSWORD.sub(rf"\g<pre>:{REDACTED}@", out)
    if "=" in out:
        out = _QUERY_PARAM.sub(
            lambda m: m["pre"] + REDACTED if _SECRET_QUERY.match(m["key"]) else m[0], out
        )
    if "=" in out or ":" in out:
        out = _KEY_VALUE.sub(lambda m: m["pre"] + REDACTED, out)
    return out


def replace_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each literal value in ``secrets`` replaced by ``***`` (and nothing else)."""
    if not isinstance(secrets, tuple):  # operation secrets come sorted already
        secrets = tuple(sorted(set(secrets), key=len, reverse=True))
    for secret in secrets:  # longest first, so no part of a longer secret stays visible
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def secret_spellings(value: str, *, encoded: bool = False) -> set[str]:
    """Every way a secret may be spelled in a message: as is, percent-encoded (``quote`` and
    ``quote_plus``), and escaped as in a ``repr`` or JSON text. With ``encoded`` the value comes
    from a URI (percent-encoded) and its decoded text's spellings are added."""
    plain = str.__str__(value)
    texts = {plain, unquote(plain)} if encoded else {plain}
    out: set[str] = set()
    for text in texts:
        out.update(
            {
                text,
                quote(text, safe=""),
                quote_plus(text),
                str.__repr__(text)[1:-1],
                json.dumps(text)[1:-1],
            }
        )
    return out


def _uri_secrets(text: str, out: set[str]) -> None:
    if "://" not in text:
        return
    for match in _URI_PASSWORD.finditer(text):
        if match["pw"]:
            out.update(secret_spellings(match["pw"], encoded=True))
    if _WHOLE_URI.match(text):
        # a configured URI: its password as a driver reads it, a raw space or "@" included
        with contextlib.suppress(ValueError):
            password = urlsplit(text.strip()).password
            if password:
                out.update(secret_spellings(password, encoded=True))
    for match in _QUERY_PARAM.finditer(text):
        if _SECRET_QUERY.match(match["key"]) and match["val"]:
            out.update(secret_spellings(match["val"], encoded=True))


def _collect(value: Any, secret: bool, out: set[str]) -> None:
    if isinstance(value, str):
        _uri_secrets(value, out)
        if (secret or isinstance(value, Secret)) and "://" not in value:
            out.update(secret_spellings(value))
            if value.lstrip().startswith("{"):  # a key file's JSON text: its fields too
                with contextlib.suppress(ValueError):
                    _collect(json.loads(value), True, out)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, secret, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, secret, out)
    elif secret and value is not None and not isinstance(value, bool):
        out.add(str(value))


def _longest_first(found: set[str]) -> tuple[str, ...]:
    return tuple(sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True))


def secrets_in(value: Any, *, secret: bool = False) -> tuple[str, ...]:
    """The secret values inside ``value`` in every spelling, longest first.

    Counted: :class:`Secret` values, passwords and secret query parameters of URIs, and with
    ``secret`` every value inside ``value`` (a whole URI stays, only its secrets go).
    """
    out: set[str] = set()
    _collect(value, secret, out)
    return _longest_first(out)


def _storage_secrets(options: Any, out: set[str]) -> None:
    """The values of the secret keys of a storage-options mapping (and of its client kwargs)."""
    if not isinstance(options, Mapping):
        return
    for key, value in options.items():
        name = str(key).lower()
        if name in SECRET_STORAGE_OPTIONS:
            _collect(value, True, out)
        elif name == "headers" and isinstance(value, Mapping):
            for header, text in value.items():
                _collect(text, str(header).lower() in SECRET_HEADERS, out)
        elif name in ("client_kwargs", "config_kwargs") and isinstance(value, Mapping):
            _storage_secrets(value, out)
        else:
            _collect(value, False, out)


def mark_secrets(settings: Mapping[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    """``settings`` with the values of ``secret_fields`` wrapped in :class:`Secret`."""
    fields = set(secret_fields)
    return {
        k: Secret(v) if k in fields and isinstance(v, str) and not isinstance(v, Secret) else v
        for k, v in settings.items()
    }


def mark_storage_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A storage-options mapping with the values of its secret keys wrapped in :class:`Secret`."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = str(key).lower()
        if name in SECRET_STORAGE_OPTIONS and isinstance(value, str):
            out[key] = Secret(value)
        elif name == "headers" and isinstance(value, Mapping):
            out[key] = {
                h: Secret(v) if str(h).lower() in SECRET_HEADERS and isinstance(v, str) else v
                for h, v in value.items()
            }
        elif name in ("client_kwargs", "config_kwargs") and isinstance(value, Mapping):
            out[key] = mark_storage_options(value)
        else:
            out[key] = value
    return out


def secrets_of(source: SourceSpec, kind: SourceKind | None = None) -> tuple[str, ...]:
    """The secret values a source spec holds, in every spelling, longest first.

    The kind's ``secret`` fields, the secret keys of ``options.storage_options`` (inline or from
    ``credentials``), :class:`Secret` values anywhere, and the passwords and signature
    parameters of any URI. Nothing is a secret because of its key's name elsewhere. ``kind`` is
    the source's kind when the caller looked it up already.
    """
    if kind is None:
        from dynio.engine.sources import kind_for  # the registry imports formats and polars

        kind = kind_for(source.kind)
    fields = kind.fields if kind is not None else {}
    out: set[str] = set()
    for name, value in source.settings.items():
        spec = fields.get(name)
        _collect(value, bool(spec is not None and spec.secret), out)
    for name, value in source.options.items():
        if name == "storage_options":
            _storage_secrets(value, out)
        else:
            _collect(value, str(name).lower() in SECRET_CLIENT_OPTIONS, out)
    return _longest_first(out)


def location_of(source: SourceSpec, secrets: tuple[str, ...] | None = None) -> str | None:
    """Where a source spec points, from its settings alone, redacted (before any planning).

    The source's own :attr:`Scan.location` replaces it once planned; this one names the location
    of operations that fail before (a refused connection, a missing dependency).
    """
    from dynio.engine.spec_settings import FILE_KINDS, file_settings

    s = source.settings
    if source.kind in FILE_KINDS:  # the file kinds' settings know their keys
        text = file_settings(source).location()
        if source.base_dir and "://" not in text and not os.path.isabs(text):
            text = os.path.join(source.base_dir, text)
    elif isinstance(s.get("uri"), str):
        text = str.__str__(s["uri"])
    elif "db_host" in s or "db_name" in s:
        user = f"{s['db_user']}@" if s.get("db_user") else ""
        port = f":{s['db_port']}" if s.get("db_port") else ""
        text = f"{source.kind}://{user}{s.get('db_host', '')}{port}/{s.get('db_name', '')}"
    elif "kafka_server" in s:
        text = f"kafka://{s['kafka_server']}/{s.get('kafka_topic', '')}"
    else:
        keys = ("file_path", "path_prefix", "dynamic_file_path", "database", "s3_output")
        found = next((s[k] for k in keys if s.get(k)), None)
        if found is None:
            return None
        text = str(found)
        if source.base_dir and "://" not in text and not os.path.isabs(text):
            text = os.path.join(source.base_dir, text)
    return redact(text, secrets_of(source) if secrets is None else secrets)


def _clean_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """An offending value, or its redacted text when its ``repr`` would show a secret."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = repr(value)
    cleaned = redact(text, secrets)
    if cleaned == text:
        return value
    return redact(value, secrets) if isinstance(value, str) else cleaned


def scrub(exc: BaseException, secrets: tuple[str, ...]) -> None:
    """Redact secrets from an exception and its causes, in place (the last line of defence)."""
    from dynio.engine.errors import DynioError

    def clean(value: Any) -> Any:
        return redact(value, secrets) if isinstance(value, str) else value

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DynioError):
            current.message = redact(current.message, secrets)
            current.file = clean(current.file)
            if current.values is not None:
                # offending values are rendered into the message again on every str()
                current.values = [_clean_value(v, secrets) for v in current.values]
            current.args = (redact(current._render(), secrets),)
            for inner in getattr(current, "problems", None) or ():
                if isinstance(inner, BaseException):
                    scrub(inner, secrets)
        else:
            current.args = tuple(clean(a) for a in current.args)
        if isinstance(current, OSError):
            # str(OSError) is built from these, not from args; only text is replaced (setting
            # one that was unset, even to None, changes how the error prints)
            for name in ("strerror", "filename", "filename2"):
                value = getattr(current, name)
                if isinstance(value, str) and clean(value) != value:
                    setattr(current, name, clean(value))
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [clean(n) for n in notes]
        current = current.__cause__ or current.__context__


def secrets_of_body(body: Any) -> set[str]:
    """The secret values of one environment's YAML body (resolved, not yet validated): its
    kind's ``secret`` fields and its storage options' secret keys, in every spelling.

    Taken before the body is checked, so an error about any of its values (a password typed
    into a number field) can be cleaned of them by value.
    """
    from dynio.engine.sources import kind_for

    out: set[str] = set()
    if not isinstance(body, Mapping):
        return out
    kind = kind_for(body["type"]) if isinstance(body.get("type"), str) else None
    if kind is not None:
        for section in kind.sections:
            settings = body.get(section)
            if isinstance(settings, Mapping):
                for name, fld in kind.fields.items():
                    if fld.secret and name in settings:
                        _collect(settings[name], True, out)
                    elif name in settings:
                        _collect(settings[name], False, out)  # URI passwords
    options = body.get("options")
    if isinstance(options, Mapping):
        _storage_secrets(options.get("storage_options"), out)
        for name, value in options.items():
            if str(name).lower() in SECRET_CLIENT_OPTIONS:
                _collect(value, True, out)
    return {s for s in out if len(s) >= _MIN_SECRET}


def storage_secrets(options: Any) -> set[str]:
    """The secret values of a storage-options mapping (a ``credentials:`` entry)."""
    out: set[str] = set()
    _storage_secrets(options, out)
    return {s for s in out if len(s) >= _MIN_SECRET}
