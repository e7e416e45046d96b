"""A profile of a running server with py-spy: a flame graph and the functions by own time."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"


def record(pid: int, seconds: int, out: Path, stem: str = "profile") -> list[str]:
    """Sample `pid` for `seconds` twice: collapsed stacks, then a flame graph (SVG).

    Writes <stem>.folded, <stem>.svg and <stem>-top.txt under `out`; returns the
    lines of the latter (functions by own time, then by total time).
    """
    out.mkdir(parents=True, exist_ok=True)
    folded, svg = out / f"{stem}.folded", out / f"{stem}.svg"
    for fmt, path in (("raw", folded), ("flamegraph", svg)):
        command = [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--function",
            "--format",
            fmt,
            "--output",
            str(path),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"py-spy failed ({result.returncode}): {result.stderr.strip()}")
    lines = top(folded.read_text())
    (out / f"{stem}-top.txt").write_text("\n".join(lines) + "\n")
    return lines


def _short(frame: str) -> str:
    """`func (…/site-packages/pkg/mod.py)` -> `func (pkg/mod.py)`; project files from the root."""
    return re.sub(
        r"\((?:[^()]*/(?:site-packages|python3\.\d+)/|[^()]*/(?=(?:bridge|tests|benchmarks)/))",
        "(",
        frame,
    )


def top(folded: str, count: int = 30) -> list[str]:
    """The functions with the most samples at the top of the stack (own), and anywhere."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in folded.splitlines():
        stack, _, weight = line.rpartition(" ")
        if not stack or not weight.isdigit():
            continue
        frames = [_short(frame) for frame in stack.split(";")]
        samples += int(weight)
        own[frames[-1]] += int(weight)
        for frame in set(frames):
            total[frame] += int(weight)
    if not samples:
        return ["no samples"]
    lines = [f"{samples} samples of the running (not idle) threads", "", "own %  total %  function"]
    for frame, n in own.most_common(count):
        lines.append(f"{100 * n / samples:5.1f}  {100 * total[frame] / samples:6.1f}   {frame}")
    lines += ["", "by total time", "own %  total %  function"]
    for frame, n in total.most_common(count):
        lines.append(f"{100 * own[frame] / samples:5.1f}  {100 * n / samples:6.1f}   {frame}")
    return lines
