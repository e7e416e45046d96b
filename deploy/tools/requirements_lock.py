"""Print deploy/requirements.lock: the bridge's runtime dependencies at the exact
versions installed in the running environment (the tested .venv).

    .venv/bin/python deploy/tools/requirements_lock.py > deploy/requirements.lock

Walks the requirements of the installed `video-callback-bridge` distribution
(without its `dev` extra), following extras and evaluating environment markers
for this interpreter and platform, which are the image's: CPython 3.11 on Linux.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

PROJECT = "video-callback-bridge"

HEADER = """\
# The bridge's runtime dependencies at exact versions, for the container image
# (deploy/Dockerfile installs exactly these, with --no-deps). Generated from the
# tested .venv; refresh after changing dependencies in pyproject.toml:
#   .venv/bin/python deploy/tools/requirements_lock.py > deploy/requirements.lock
# `make install` installs these versions too (a constraint file): to move one, change
# its line here, run `make install`, then the command above.
"""


def runtime_closure(project: str = PROJECT) -> dict[NormalizedName, str]:
    """Name -> installed version of every distribution `project` needs at run time."""
    wanted: dict[NormalizedName, set[str]] = {}
    pending: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    while pending:
        name, extras = pending.pop()
        for line in distribution(name).requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in extras or {""}]
            if requirement.marker and not any(
                requirement.marker.evaluate(env) for env in environments
            ):
                continue
            key = canonicalize_name(requirement.name)
            known = wanted.get(key)
            if known is not None and requirement.extras <= known:
                continue
            wanted[key] = (known or set()) | requirement.extras
            pending.append((requirement.name, frozenset(wanted[key])))
    closure = {}
    for key in wanted:
        try:
            closure[key] = distribution(key).version
        except PackageNotFoundError:
            raise SystemExit(f"requirements_lock: {key} is required but not installed") from None
    return dict(sorted(closure.items()))


def main() -> int:
    sys.stdout.write(HEADER)
    for name, version in runtime_closure().items():
        sys.stdout.write(f"{name}=={version}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
