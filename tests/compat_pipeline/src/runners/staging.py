"""Staging: read the inputs (validated, measured), keep them in the raw area."""

import logging

from compat_pipeline.src import constants, input_config, raw_config
from compat_pipeline.src.environment import RUN_DAY
from compat_pipeline.src.io import InputIO, StagedBar, StagedEvents, StagedFoo

logger = logging.getLogger(__name__)


def main() -> None:
    """The staging step."""
    logger.info("Loading data from live sources...")
    bar_df = InputIO(
        source_config=input_config.get(source_key="BAR"),
        apply_schema_validations=True,
        log_schema_metrics=True,
    ).read()
    foo_df = InputIO(
        source_config=input_config.get(source_key="FOO"),
        apply_schema_validations=True,
        log_schema_metrics=True,
    ).read()
    events_df = InputIO(
        source_config=input_config.get(source_key="EVENTS"),
        apply_schema_validations=True,
        log_schema_metrics=True,
    ).read()
    daily_df = InputIO(
        source_config=input_config.get(source_key="DAILY"),
        apply_schema_validations=True,
        day=RUN_DAY,
    ).read()

    logger.info("Staging data...")
    StagedFoo(
        source_config=raw_config.get(source_key="STAGED_FOO"),
        apply_schema_validations=True,
        log_schema_metrics=True,
        **constants.TO_PARQUET_KWARGS,
    ).write(foo_df)
    StagedBar(source_config=raw_config.get(source_key="STAGED_BAR")).write(bar_df)
    StagedEvents(source_config=raw_config.get(source_key="STAGED_EVENTS")).write(events_df)
    InputIO(source_config=raw_config.get(source_key="STAGED_DAILY")).write(daily_df)
    logger.info("Done staging.")
