"""The typed settings of the file kinds: the one place that reads their YAML keys."""

from __future__ import annotations

import pytest

from dynio.engine.sources import kind_for
from dynio.engine.spec import SourceSpec, freeze
from dynio.engine.spec_settings import FILE_KINDS, SECRET_FIELDS, FileSettings, file_settings


def _spec(kind: str, **settings: str) -> SourceSpec:
    return SourceSpec(kind, freeze(settings), format="parquet")


@pytest.mark.parametrize(
    ("kind", "settings", "location", "key", "local_keys"),
    [
        ("local", {"file_path": "data/{day}.parquet"}, "data/{day}.parquet", "file_path",
         ("file_path",)),
        ("local_batch", {"path_prefix": "data/"}, "data/", "path_prefix", ("path_prefix",)),
        ("local_batch", {"dynamic_file_path": "d/*.parquet"}, "d/*.parquet", "dynamic_file_path",
         ("dynamic_file_path",)),
        ("file", {"uri": "file:///srv/x.parquet"}, "file:///srv/x.parquet", "uri", ("uri",)),
        ("s3", {"bucket": "s3://lake/", "file_path": "/a/b.parquet"}, "s3://lake/a/b.parquet",
         "file_path", ()),
        ("s3_path_prefix", {"bucket": "lake", "path_prefix": "in"}, "s3://lake/in/",
         "path_prefix", ()),
        ("s3_path_prefix", {"bucket": "lake/data/in/"}, "s3://lake/data/in/",
         "dynamic_file_path", ()),
        ("gcs_path_prefix", {"bucket": "lake", "dynamic_file_path": "x/{d}.parquet"},
         "gs://lake/x/{d}.parquet", "dynamic_file_path", ()),
    ],
)  # fmt: skip
def test_each_file_kind_says_its_location_and_local_paths(
    kind: str, settings: dict[str, str], location: str, key: str, local_keys: tuple[str, ...]
) -> None:
    typed = file_settings(_spec(kind, **settings))
    assert isinstance(typed, FileSettings)
    assert typed.location() == location
    assert typed.key == key
    assert typed.local_keys == local_keys
    with pytest.raises(AttributeError):
        typed.path = "elsewhere"  # type: ignore[misc]


def test_the_file_kinds_hold_no_secret_in_their_sections() -> None:
    for name in FILE_KINDS:
        kind = kind_for(name)
        assert kind is not None
        assert [f for f, spec in kind.fields.items() if spec.secret] == list(SECRET_FIELDS)
    with pytest.raises(ValueError, match="not a file kind"):
        file_settings(SourceSpec("postgres", freeze({"db_host": "h"})))
    both = file_settings(
        _spec("s3_path_prefix", bucket="b", path_prefix="p", dynamic_file_path="q")
    )
    assert both.both_given
    assert (
        file_settings(_spec("file", uri="file:///srv/x.parquet")).local_path() == "/srv/x.parquet"
    )
