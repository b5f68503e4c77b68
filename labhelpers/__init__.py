"""Registry Security Lab helpers: the notebooks' toolkit and the embedded sandbox cluster."""

from .client import connect

__all__ = ["connect"]
__version__ = "0.1.0"
