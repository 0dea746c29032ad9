"""The built-in plugins (listed in gridcase.core.plugins.BUILTIN_PLUGINS)."""
