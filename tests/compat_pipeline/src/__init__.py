"""Set config IOs."""

__all__ = ["input_config", "processed_config", "raw_config"]

import os

from compat_pipeline.src import environment
from compat_pipeline.src.environment import ENVIRONMENT, RESOURCES
from dynio.compat.dynamicio.config import IOConfig

input_config = IOConfig(
    path_to_source_yaml=os.path.join(RESOURCES, "definitions/input.yaml"),
    env_identifier=ENVIRONMENT,
    dynamic_vars=environment,
)
raw_config = IOConfig(
    path_to_source_yaml=os.path.join(RESOURCES, "definitions/raw.yaml"),
    env_identifier=ENVIRONMENT,
    dynamic_vars=environment,
)
processed_config = IOConfig(
    path_to_source_yaml=os.path.join(RESOURCES, "definitions/processed.yaml"),
    env_identifier=ENVIRONMENT,
    dynamic_vars=environment,
)
