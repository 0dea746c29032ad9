"""Bundled city profiles: `standard` and one folder per city that extends it."""
