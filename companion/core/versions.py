"""The versions a measured result records (eval runs, benchmarks), so that a number can be traced to what made it."""

from __future__ import annotations

import importlib.metadata
import platform


def package_versions(*names: str) -> dict[str, str]:
    """The Python version and each named package's (``not installed`` when it is not)."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
