"""Built-in and city plugins. Built-in behaviour lives in `builtin` and is registered exactly
like a city plugin, so a city can override any of it."""
