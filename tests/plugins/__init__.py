"""Plugins the tests load as a deployment would: real modules the linters and mypy read."""
