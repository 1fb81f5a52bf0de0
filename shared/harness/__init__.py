"""The harness, written once: it drives every lesson in either framework through a declared protocol.

One direction: runner (the front door) -> session (one lesson, one framework, this process) ->
the framework side (<fw>_impl/_harness.py) -> the lesson. distributed launches the workers of a
data-parallel run, each of which runs the same session work. protocol declares the contract.
"""
