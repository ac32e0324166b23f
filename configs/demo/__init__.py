"""The demo pipeline's configuration, shipped in the wheel as ``dynio.demo_config``.

``dynio demo`` finds it with :mod:`importlib.resources`, so the demo runs from an installed
wheel as from a source checkout.
"""
