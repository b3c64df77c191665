"""Clients in other languages (Node.js) driven by the interop tests in tests/e2e/test_interop_*.py."""
