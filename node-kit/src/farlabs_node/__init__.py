"""far-node: a Far Mesh provider node (Petals server + gateway + discovery agent)."""

from farlabs_node._version import __version__

__all__ = ["__version__"]
