"""``python -m dynio.compat.dynamicio``: dynamicio's schema-generation command."""

from dynio.compat.dynamicio.cli import run

run()
