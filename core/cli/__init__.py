"""The `gridcase` command line (typer): one module per group of commands.

A thin layer over the stage packages and the Engine: it parses, calls, and prints messages,
never tracebacks, for a user's mistakes. Nothing below it imports it.
"""
