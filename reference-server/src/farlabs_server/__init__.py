"""Far Mesh reference server."""

from ._version import __version__

__all__ = ["__version__"]
