"""The pipeline's steps."""
