"""The gridcase engine: it knows no city. Cities are profiles plus plugins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gridcase")
except PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
