"""Local files: ``local`` (one file), ``local_batch`` (a folder or glob of files), ``file`` (a URI).

YAML examples::

    trips:
      sample:
        type: local
        local: {file_path: "data/trips_{day}.csv", file_type: csv}
      history:
        type: local_batch
        local_batch: {path_prefix: "data/trips/", file_type: parquet}
        options: {partition_cols: [day]}          # writes hive-partitioned folders
      glob:
        type: local_batch
        local_batch: {dynamic_file_path: "data/{year}/**/*.parquet", file_type: parquet}
      native:
        type: file
        file: {uri: "file:///srv/data/trips.parquet"}   # s3://, gs://, https:// … are
                                                       # object stores (see sources.files)

Relative paths resolve against the folder of the YAML file that declares them. Reads scan lazily
through Polars (parallel over many files; files that disagree on columns or types are reconciled
with a warning, see :mod:`dynio.engine.sources.dataset`); writes go to a temporary file in the
destination folder and are renamed into place, and a dataset folder is built aside and swapped
in (see :mod:`dynio.engine.io.layout`), so a failed write leaves the old data untouched.
"""

from __future__ import annotations

import errno
import functools
import glob
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from dynio.engine.errors import ReadError, WriteError
from dynio.engine.io.formats import Format, capabilities_of, format_for
from dynio.engine.io.formats.base import hive_paths
from dynio.engine.io.layout import hive_values, prune_partitions, write_dataset
from dynio.engine.io.layout.pruning import prune_files
from dynio.engine.placeholders import fill_template
from dynio.engine.sources import Pushdown, Scan, ScanRequest, WriteInfo, WriteRequest
from dynio.engine.sources.dataset import scan_files
from dynio.engine.spec import SourceSpec, thaw
from dynio.engine.spec_settings import file_settings

__all__ = ["gc", "location", "os_problem", "resolve_files", "scan", "write"]

_GLOB_CHARS = ("*", "?", "[")
_FILE_GLOB_CHARS = ("*", "?")  # a file kind: [ and ] are letters of the name


def _format(spec: SourceSpec) -> Format:
    fmt = format_for(spec.format or "")
    if fmt is None:  # the loader guarantees a known format for file kinds
        raise ValueError(f"no format for source {spec!r}")
    return fmt


def location(
    spec: SourceSpec,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    filled: Mapping[str, str] | None = None,
) -> Path:
    """The filled, absolute location of a local source (``filled``: the settings the planner
    filled already, so a read fills its template once)."""
    settings = file_settings(spec)
    done = (filled or {}).get(settings.key)
    text = (
        done
        if done is not None
        else fill_template(settings.local_path(), args, {**context, "key_path": spec.kind})
    )
    path = Path(os.path.expanduser(text))
    if not path.is_absolute() and spec.base_dir is not None:
        path = Path(spec.base_dir) / path
    return path


def resolve_files(spec: SourceSpec, path: Path, context: Mapping[str, Any]) -> list[Path]:
    """The data files a location names: one file, a folder's files of the format, or a glob.

    Empty files are skipped; a location matching nothing is a :class:`ReadError`.
    """
    try:
        return _resolve_files(spec, path, context)
    except OSError as exc:  # a name too long, a folder that cannot be listed …
        raise ReadError(f"cannot read: {os_problem(exc, path)}", file=str(path), **context) from exc


def _resolve_files(spec: SourceSpec, path: Path, context: Mapping[str, Any]) -> list[Path]:
    fmt = _format(spec)
    text = str(path)
    if spec.kind != "local_batch":
        # a file kind's name is literal: an existing file is that file whatever it holds, and
        # only * and ? match others ([ and ] are letters of the name)
        if not any(c in text for c in _FILE_GLOB_CHARS) or path.is_file():
            if not path.is_file():
                what = "is a folder, not a file" if path.is_dir() else "does not exist"
                raise ReadError(f"file {what}", file=text, **context)
            return [path]
        pattern = text.replace("[", "[[]")
        files = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
        sized = [(p, p.stat().st_size) for p in files]
    elif any(c in text for c in _GLOB_CHARS):
        files = sorted(p for p in map(Path, glob.glob(text, recursive=True)) if p.is_file())
        sized = [(p, p.stat().st_size) for p in files if not p.name.startswith((".", "_"))]
    elif path.is_dir():
        from dynio.engine.io.layout.listing import local_files  # (a read of one file needs none)

        sized = local_files(path, fmt)
    else:
        raise ReadError("folder does not exist", file=text, **context)
    nonempty = [p for p, size in sized if size > 0]
    if not nonempty:
        raise ReadError(
            f"no {fmt.name} files found" + (" (only empty ones)" if sized else ""),
            file=text,
            **context,
        )
    return nonempty


def scan(spec: SourceSpec, request: ScanRequest) -> Scan:
    """A LazyFrame over the local file(s) of a resource (``options: {engine: duckdb}`` is
    :func:`dynio.engine.sources.duckdb.scan_files`, chosen by the registry)."""
    fmt = _format(spec)
    path = location(spec, request.template_args, request.context, request.filled)
    files = resolve_files(spec, path, request.context)
    if spec.kind == "local_batch" and len(files) > 1 and path.is_dir():
        kept = prune_partitions(
            [str(f) for f in files],
            [str(f.relative_to(path)) for f in files],
            request.filters,
            request.hints.dtypes,
        )
        # when the filter excludes every partition, one file still gives the scan its columns
        files = [Path(f) for f in kept] or files[:1]
    if request.files is not None:  # one partition of the dataset
        files = [f for f in files if str(f) in request.files]
    options = thaw(spec.options)
    names = [str(f) for f in files]
    judged = _by_statistics(fmt, names, options, request)
    if judged is not None:
        names = judged.kept
        files = [Path(n) for n in names]
    # one file of a format read by its footer is held open for a read, so that planning and
    # reading see one version even when a writer renames a new one over it; other files are
    # checked after the read instead (which versions this scan reads, before any footer is)
    held = _hold(names[0]) if _holdable(spec, fmt.name, names, options, request) else None
    # files not held (several, or text formats) are checked after the read: a file replaced or
    # appended to under it (CSV, NDJSON) changes identity, size or modification time
    seen = _versions(names) if len(names) > 1 or held is None else []
    # several parquet files read whole: each is opened once, the first since planning (all of
    # them, for a read of every column)
    once = _once(fmt, names, options, request)
    first = _open_first(names[0]) if once else None
    handles = _open_all(names) if _all_held(fmt, names, options, request) else None
    release = _closer([h for h in (held, first) if h is not None] + (handles or []))
    try:
        # many files: one parallel scan, or reconciled per-file scans when they disagree
        frame = scan_files(
            [held.path] if held is not None else names,
            fmt,
            options,
            request.hints,
            label=str(path),
            context=request.context,
            columns=request.columns,
            optimistic=once,
            held=first,
            handles=handles or None,
        )
    except BaseException as exc:
        if release is not None:
            release()  # nothing else will: the scan is not returned
        if not isinstance(exc, OSError | ValueError | LookupError | pl.exceptions.PolarsError):
            raise
        raise ReadError(
            f"cannot read {fmt.name}: {exc}",
            file=str(files[0] if len(files) == 1 else path),
            **request.context,
        ) from exc
    return Scan(
        frame=frame,
        location=str(path),
        files=tuple(str(f) for f in files),
        format=fmt.name,
        # Polars pushes the planner's projection and filter into its file scans (the filter
        # also pruned the hive partitions of a dataset)
        pushdown=Pushdown.whole(
            request.filter, projection=True, **(judged.details() if judged else {})
        ),
        changed=_change_check(names, seen) if judged is None else judged.changed(),
        release=release,
        read_paths=(held.path,) if held is not None else (),
    )


@dataclass(frozen=True)
class _Judged:
    """A dataset's files judged by their footers' statistics (:func:`_by_statistics`).

    Attributes:
        listed: Every file judged.
        versions: Their versions before their footers were read.
        kept: The files the scan reads (one at least: it gives the scan its columns).
    """

    listed: list[str]
    versions: list[tuple[int, int, int] | None]
    kept: list[str]

    def details(self) -> dict[str, int]:
        """The pushdown record's details: files before and after (``files``, ``files_kept``)."""
        return {"files": len(self.listed), "files_kept": len(self.kept)}

    def changed(self) -> Callable[[], bool] | None:
        """The check after the read: every file judged, those left out included (one replaced
        since its footer was read may hold rows the filter keeps now)."""
        return _change_check(self.listed, self.versions)


def _by_statistics(
    fmt: Format, files: list[str], options: Mapping[str, Any], request: ScanRequest
) -> _Judged | None:
    """The files of a dataset read with a filter that may hold rows it keeps, by their
    footers' statistics (:func:`~dynio.engine.io.layout.pruning.prune_files`); ``None``: not
    judged (one file, a part of the dataset asked for, a format without statistics, options
    that count rows before the filter or turn statistics off) or nothing could be told."""
    if (
        len(files) < 2
        or request.filter is None
        or request.files is not None
        or not fmt.capabilities.statistics
        or options.get("use_statistics") is False
        or any(options.get(o) is not None for o in ("n_rows", "row_index_name"))
    ):
        return None
    before = _versions(files)
    # a partition column's values are in the folder names, whatever the files hold
    keys = {key for f in files for key in hive_values(f)}
    kept = prune_files(files, request.filter, request.hints.dtypes, skip=keys)
    return None if kept is None else _Judged(files, before, kept or files[:1])


def _once(fmt: Format, files: list[str], options: Mapping[str, Any], request: ScanRequest) -> bool:
    """Whether a read of several files can open each file once (see ``scan_files``'s
    ``optimistic``): a format with statistics in its footers, read whole (a streaming scan keeps
    Polars' own, lazier scan)."""
    return (
        len(files) > 1
        and fmt.capabilities.statistics
        and request.columns is not None
        and not request.streaming
        and "n_rows" not in options
        and not options.get("include_file_paths")
        # options only the format's own reader honours (page checksum verification)
        and not any(options.get(o) for o in fmt.capabilities.local_only_options)
    )


# at most this many files are held open at once by a read of every column
_HOLD_MAX = 256


def _all_held(
    fmt: Format, files: list[str], options: Mapping[str, Any], request: ScanRequest
) -> bool:
    """Whether a read of every column of several parquet files opens each once, reading its
    footer and its data through one handle (``scan_files``' ``handles``): not for partition
    folders, whose values Polars takes from the paths."""
    return (
        1 < len(files) <= _HOLD_MAX
        and fmt.capabilities.statistics
        and request.columns is None
        and not request.streaming
        and not options.get("hive_partitioning")
        and not hive_paths(files)
        and "n_rows" not in options
        and not options.get("include_file_paths")
        and not any(options.get(o) for o in fmt.capabilities.local_only_options)
    )


def _open_all(files: list[str]) -> list[BinaryIO]:
    """The files open, or none when one cannot be (the scan by paths reports it)."""
    opened: list[BinaryIO] = []
    try:
        for file in files:
            opened.append(open(file, "rb"))  # noqa: SIM115 (closed by the scan's release)
    except OSError:
        for handle in opened:
            handle.close()
        return []
    return opened


def _closer(handles: list[Any]) -> Callable[[], None] | None:
    """What closes these open files (and held ones) once the read is done; ``None``: none."""
    if not handles:
        return None

    def close() -> None:
        for handle in handles:
            handle.close()

    return close


def _open_first(file: str) -> BinaryIO | None:
    try:
        return open(file, "rb")  # closed by the scan's release
    except OSError:
        return None  # the scan reports it


_FD_PATHS = Path("/proc/self/fd")


@functools.cache
def _fd_paths() -> bool:
    """Whether this system names open files by ``/proc/self/fd/N`` (it does not change)."""
    return _FD_PATHS.is_dir()


@dataclass
class _Held:
    """A file held open; ``path`` opens the very same file (inode) while it is."""

    fd: int
    path: str

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def _holdable(
    spec: SourceSpec,
    fmt: str,
    files: list[str],
    options: Mapping[str, Any],
    request: ScanRequest,
) -> bool:
    # a dataset's file is named by its folders (hive partitions): it is read by its own path
    return (
        len(files) == 1
        and spec.kind != "local_batch"
        and not options.get("hive_partitioning")
        and capabilities_of(fmt).footer
        and not request.streaming
        and not options.get("include_file_paths")
        and _fd_paths()
    )


def _hold(file: str) -> _Held | None:
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        return None  # the scan reports it
    return _Held(fd, str(_FD_PATHS / str(fd)))


def _change_check(
    names: list[str], seen: list[tuple[int, int, int] | None]
) -> Callable[[], bool] | None:
    """What tells the engine the files changed under a read (``None``: nothing to check).

    Several files may have been read in two versions when any of them was replaced. One file
    is read through one open: a new file renamed over it (a writer's atomic replace) was read
    whole, old or new, so only the same file changed in place (appended to, rewritten) calls
    for another read.
    """
    if not seen:
        return None
    if len(names) > 1:
        return lambda: _versions(names) != seen
    before = seen[0]

    def modified_in_place() -> bool:
        now = _versions(names)[0]
        if now == before and _mid_line(names[0], now):  # an appender may be half-way in a row
            time.sleep(_SETTLE_S)
            now = _versions(names)[0]
        return before is not None and now is not None and now[0] == before[0] and now != before

    return modified_in_place


_SETTLE_S = 0.25  # how long a file just modified and ending mid-line is watched for more


def _mid_line(name: str, version: tuple[int, int, int] | None) -> bool:
    """Whether a file modified in the last seconds ends without a newline (a row may be cut)."""
    if version is None or version[1] == 0 or time.time_ns() - version[2] > 2_000_000_000:
        return False
    try:
        with open(name, "rb") as f:
            f.seek(version[1] - 1)  # the last byte the read saw, whatever came since
            return f.read(1) != b"\n"
    except OSError:
        return False


def _versions(files: list[str]) -> list[tuple[int, int, int] | None]:
    """Each file's identity (inode, size, modification time); ``None`` for a file gone.

    Writers replace a file by renaming a new one over it (a new inode), so a changed identity
    means the reader may have mixed two versions.
    """
    out: list[tuple[int, int, int] | None] = []
    for name in files:
        try:
            st = os.stat(name)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return out


def write(frame: pl.DataFrame, spec: SourceSpec, request: WriteRequest) -> WriteInfo:
    """Write a frame to the local file (or dataset folder) of a resource, atomically."""
    fmt = _format(spec)
    path = location(spec, request.template_args, request.context)
    options = thaw(spec.options)
    for plan_only in ("columns", "filters", "usecols"):
        options.pop(plan_only, None)
    glob_chars = _GLOB_CHARS if spec.kind == "local_batch" else _FILE_GLOB_CHARS
    if any(c in str(path) for c in glob_chars):
        raise WriteError("cannot write to a glob pattern", file=str(path), **request.context)
    from dynio.engine.io.layout.folders import FolderCommit, atomic_write_file  # (writes only)

    try:
        if spec.kind == "local_batch":
            size, files = write_dataset(frame, fmt, options, FolderCommit(path), "part-00000")
            return WriteInfo(str(path), frame.height, size, tuple(files))
        if options.get("partition_cols"):
            raise WriteError(
                "partition_cols needs a folder: use type local_batch with a path_prefix",
                file=str(path),
                **request.context,
            )
        size = atomic_write_file(path, frame, fmt, options)
    except WriteError as exc:
        if exc.resource is None:
            raise WriteError(exc.message, file=str(path), **request.context) from exc
        raise
    except OSError as exc:
        raise WriteError(
            f"cannot write {fmt.name}: {os_problem(exc, path)}", file=str(path), **request.context
        ) from exc
    except (ValueError, pl.exceptions.PolarsError) as exc:
        # Polars wraps a failed system call in its own error, saying only "(os error N)"
        code = re.search(r"\(os error (\d+)\)", str(exc))
        said = os_problem(OSError(int(code.group(1)), str(exc)), path) if code else str(exc)
        raise WriteError(
            f"cannot write {fmt.name}: {said}", file=str(path), **request.context
        ) from exc
    return WriteInfo(str(path), frame.height, size, (str(path),))


def os_problem(exc: OSError, path: Path) -> str:
    """What an operating-system failure to write ``path`` means, in a sentence of dynio's."""
    if isinstance(exc, FileExistsError | NotADirectoryError):
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"the folder {str(parent)!r} it needs is a file"
                break
    if isinstance(exc, PermissionError):
        where = exc.filename or path
        return f"permission denied on {str(where)!r}"
    code = exc.errno
    if code is None:  # Polars' own OSError says the code only in its text: "(os error 27)"
        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found.group(1)) if found else None
    if code == errno.ENOSPC:
        return "no space left on the device"
    if code == errno.ENAMETOOLONG:
        longest = max((len(os.fsencode(p)) for p in path.parts), default=0)
        return f"a name in the path is too long ({longest} bytes; most file systems take 255)"
    if code == errno.EFBIG:
        return "the file grew past the largest size allowed (the process's file-size limit)"
    if code == errno.EROFS:
        return "the file system is read-only"
    reason = exc.strerror or type(exc).__name__
    return f"{reason} ({str(exc.filename)!r})" if exc.filename else reason


def gc(
    spec: SourceSpec, context: Mapping[str, Any], *, older_than: float, dry_run: bool = False
) -> list[str]:
    """Remove what killed writers of the resource's file or folder left beside it (hidden
    temporary files and folders older than ``older_than`` seconds); what was removed."""
    path = location(spec, {}, context)
    if any(c in str(path) for c in _GLOB_CHARS):
        return []  # a glob is never written
    from dynio.engine.io.layout.folders import clean_leftovers

    return [str(p) for p in clean_leftovers(path, older_than, dry_run=dry_run)]
