"""A small application that leaks (tests/integration/test_heap_cli.py)."""
