"""Migration paths into dynio from other libraries.

:mod:`dynio.compat.dynamicio` runs pipelines written for ``dynamicio`` unchanged: replace the
``dynamicio`` prefix of their imports with ``dynio.compat.dynamicio``.
"""
