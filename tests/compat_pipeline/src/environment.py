"""A module for configuring all environment variables."""

import os

ENVIRONMENT = os.getenv("ENVIRONMENT", "sample")
RESOURCES = os.path.join(os.path.dirname(os.path.realpath(__file__)), "../resources")
# where the pipeline's data lives: tests point it at a scratch folder holding input/
TEST_RESOURCES = os.getenv(
    "PIPELINE_DATA", os.path.join(os.path.dirname(os.path.realpath(__file__)), "../data")
)
S3_YOUR_INPUT_BUCKET = None
S3_YOUR_OUTPUT_BUCKET = None
KAFKA_SERVER = None
KAFKA_TOPIC = None
DB_HOST = None
DB_PORT = None
DB_NAME = None
DB_USER = None
DB_PASS = None
LOWER_THAN_LIMIT = 1000
RUN_DAY = "2024-03-01"
