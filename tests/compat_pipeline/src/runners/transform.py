"""Transform: read the staged data concurrently, derive the final tables, write them."""

import asyncio
import logging

from compat_pipeline.src import processed_config, raw_config
from compat_pipeline.src.io import InputIO, StagedBar, StagedEvents, StagedFoo

logger = logging.getLogger(__name__)


async def main() -> None:
    """The transform step."""
    logger.info("Loading staged data...")
    bar_io = StagedBar(source_config=raw_config.get(source_key="STAGED_BAR"))
    foo_io = StagedFoo(source_config=raw_config.get(source_key="STAGED_FOO"))
    events_io = StagedEvents(source_config=raw_config.get(source_key="STAGED_EVENTS"))
    daily_io = InputIO(source_config=raw_config.get(source_key="STAGED_DAILY"))
    [bar_df, foo_df, events_df, daily_df] = await asyncio.gather(
        bar_io.async_read(), foo_io.async_read(), events_io.async_read(), daily_io.async_read()
    )
    foo_io.validate_from_schema(foo_df).log_metrics_from_schema(foo_df)

    logger.info("Transforming...")
    final_foo = foo_df.assign(column_e=foo_df["column_c"] - foo_df["column_d"])
    totals = events_df.groupby("kind", as_index=False)["value"].sum()
    totals = totals.rename(columns={"kind": "column_b", "value": "events_total"})
    final_bar = bar_df[bar_df["column_b"] != "z"].merge(totals, on="column_b", how="left")
    final_bar = final_bar.merge(daily_df[["column_a", "amount"]], on="column_a", how="left")
    final_bar = final_bar.reset_index(drop=True)

    logger.info("Writing final data...")
    await asyncio.gather(
        InputIO(
            source_config=processed_config.get(source_key="FINAL_FOO"),
            apply_schema_validations=True,
            log_schema_metrics=True,
        ).async_write(final_foo),
        InputIO(
            source_config=processed_config.get(source_key="FINAL_BAR"),
            apply_schema_validations=True,
            log_schema_metrics=True,
        ).async_write(final_bar),
    )
    logger.info("Done.")
