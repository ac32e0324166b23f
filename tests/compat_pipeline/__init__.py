"""An example pipeline written in dynamicio's style, run on dynio's compat API.

It mirrors dynamicio's ``demo/``: resource YAML (``resources/definitions``), schema YAML
(``resources/schemas``), an ``environment.py`` module for ``[[ VARS ]]``, IO classes
(``src/io.py``), a staging step and a transform step (``src/runners``). Its imports are those of
a pipeline migrated from dynamicio (``dynio.compat.dynamicio``); ``run.py`` runs it, and runs the
very same code on dynamicio 9.1.0 itself when given ``--dynamicio``.
"""
