"""The framework-neutral layer: data, lesson specs, batch order, results, reports and plots.

Nothing under shared/ imports torch or jax (tests/test_shared_is_neutral.py checks this in a
fresh interpreter). It uses numpy, the standard library, matplotlib (with its Pillow), tqdm and rich.
"""
