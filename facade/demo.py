"""The demo pipeline: read trips and zones, clean and join them, write two outputs.

It runs on the ``sample`` environment of ``configs/demo`` (small files shipped in the package), so a
newcomer sees a whole dynio pipeline run with no server: ``dynio demo``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dynio.catalog import Catalog
from dynio.engine.telemetry import operation, span

if TYPE_CHECKING:
    from dynio.telemetry import SpanCapture

__all__ = ["default_config", "run"]


def default_config() -> Path:
    """The demo's configuration folder, shipped with the package (``dynio.demo_config``)."""
    from importlib.resources import files

    folder = Path(str(files("dynio.demo_config")))
    if not (folder / "resources.yaml").is_file():  # a zipped install: nothing to read in place
        raise FileNotFoundError(f"the demo configuration is not on disk at {folder}")
    return folder


def transform(trips: pd.DataFrame, zones: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pipeline's business logic, in plain pandas: drop refunds, join zones, summarise."""
    clean = trips[trips["fare"] >= 0].copy()
    clean["pickup_day"] = clean["pickup_at"].dt.strftime("%Y-%m-%d")
    clean["fare_per_km"] = (clean["fare"] / clean["distance_km"]).round(2)
    clean = clean.merge(zones, on="zone_id", how="left")
    summary = (
        clean.groupby(["zone_name", "borough"], observed=True)
        .agg(
            trips=("trip_id", "count"),
            revenue=("fare", "sum"),
            avg_fare_per_km=("fare_per_km", "mean"),
        )
        .reset_index()
        .sort_values("revenue", ascending=False)
    )
    summary["revenue"] = summary["revenue"].round(2)
    summary["avg_fare_per_km"] = summary["avg_fare_per_km"].round(2)
    return clean, summary


def run(
    config: Path | None = None,
    out: Path | None = None,
    env: str = "sample",
    echo: Callable[[str], None] = print,
    trace: bool = False,
) -> dict[str, int]:
    """Run the demo pipeline and report each step through ``echo``.

    Args:
        config: The demo configuration folder (default: :func:`default_config`).
        out: Where the outputs go (default: ``./dynio-demo-output``).
        env: The environment to run.
        echo: Where progress lines go.
        trace: Also show the run's spans as a tree with durations (needs ``dynio[otel]``).

    Returns:
        Row counts per resource read or written.
    """
    with _captured(trace) as capture, span("dynio.demo", env=env):
        counts = _run(config, out, env, echo)
    if capture is not None:
        echo("\nspans of this run (dynio demo --trace):\n" + capture.tree())
    return counts


@contextlib.contextmanager
def _captured(trace: bool) -> Iterator[SpanCapture | None]:
    if not trace:
        yield None
        return
    from dynio.telemetry import capture_spans

    with capture_spans() as capture:
        yield capture


def _run(
    config: Path | None, out: Path | None, env: str, echo: Callable[[str], None]
) -> dict[str, int]:
    config = config or default_config()
    out = (out or Path.cwd() / "dynio-demo-output").resolve()
    cat = Catalog.from_yaml(config / "resources.yaml", env=env, vars={"DEMO_OUTPUT": str(out)})
    echo(f"catalog {config / 'resources.yaml'} (env {env!r}): {', '.join(cat.resources)}")

    counts: dict[str, int] = {}
    results = {}
    for name in ("trips", "zones"):
        # one dynio.read span over the read and its hand-off to pandas, as cat.read() gives
        with operation("dynio.read", resource=name, env=env):
            result = cat.read_result(name)
            results[name] = cat.resource(name).to_pandas(result, "numpy")
        info = result.info
        counts[name] = result.frame.height
        casts = f", {len(info.casts)} cast(s)" if info.casts else ""
        echo(
            f"read  {name:<13} {result.frame.height:>5} rows  {info.format} from"
            f" {_rel(info.location)}{casts}; {result.report.checked} rule(s):"
            f" {len(result.report.errors)} error(s), {len(result.report.warnings)} warning(s);"
            f" {len(result.metrics)} metric value(s)"
        )

    clean, summary = transform(results["trips"], results["zones"])
    echo(
        f"transform: dropped {len(results['trips']) - len(clean)} refund(s), joined zones,"
        f" summarised {len(summary)} zones"
    )

    for name, frame in (("trips_clean", clean), ("zone_summary", summary)):
        written = cat.write(name, frame)
        counts[name] = written.info.rows
        files = len(written.info.files)
        echo(
            f"write {name:<13} {written.info.rows:>5} rows  to"
            f" {_rel(written.info.location)}"
            f"{f' ({files} files)' if files > 1 else ''}; {written.report.checked} rule(s) passed"
        )
    top = cat.read("zone_summary").head(3)
    echo("top zones by revenue:\n" + top.to_string(index=False))
    return counts


def _rel(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
