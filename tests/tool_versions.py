"""The tool versions pinned in deploy/tools/versions.env, the one place that names them."""

from __future__ import annotations

import re
from pathlib import Path

VERSIONS = Path(__file__).resolve().parents[1] / "deploy" / "tools" / "versions.env"


def pinned(name: str) -> str:
    """The version that versions.env pins as ``name`` (e.g. ``HELM_VERSION``)."""
    found = re.search(rf"^{re.escape(name)}=(\S+)$", VERSIONS.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{VERSIONS.name} does not pin {name}")
    return found.group(1)
