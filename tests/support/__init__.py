"""Test support, loaded by tests/conftest.py through ``pytest_plugins``: each module's fixtures are
available to every test without an import; its plain helper functions are imported by name."""
