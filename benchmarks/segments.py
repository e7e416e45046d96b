"""Records per Kafka batch, read from the broker's own log segments with Kafka's tool.

What the producer sent is best seen where it landed: the broker stores each produce
batch as one record batch in the partition's segment files. `DumpLogSegments` (in the
jars of deploy/kafka/lib) prints one line per batch, with its record count, size and
the time it was created; the batches created within a run's measured window are its.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import msgspec

from benchmarks.loadgen import ROOT

LIB = ROOT / "deploy" / "kafka" / "lib"
TOOL = "org.apache.kafka.tools.DumpLogSegments"
# baseOffset: 0 lastOffset: 1 count: 2 ... CreateTime: 1796127735216 size: 105 magic: 2
# compresscodec: lz4 crc: ... (one line per batch)
_BATCH = re.compile(
    r"\bcount: (\d+)\b.*\bCreateTime: (-?\d+) size: (\d+)\b.*\bcompresscodec: (\w+)"
)


class Batches(msgspec.Struct, frozen=True, kw_only=True):
    """The record batches the broker stored for a topic within a window."""

    batches: int
    records: int
    records_per_batch: float
    bytes_per_batch: float  # as stored: compressed, with the batch header
    partitions: int  # partitions that got at least one batch
    codecs: list[str]


class Batch(msgspec.Struct, frozen=True):
    records: int
    created_ms: int
    size: int
    codec: str


def parse(output: str) -> dict[str, list[Batch]]:
    """The batches in DumpLogSegments' output (without --deep-iteration), by file dumped."""
    found: dict[str, list[Batch]] = {}
    current: list[Batch] | None = None
    for line in output.splitlines():
        if line.startswith("Dumping "):
            current = found.setdefault(line.removeprefix("Dumping ").strip(), [])
            continue
        match = _BATCH.search(line)
        if match is not None and line.startswith("baseOffset:") and current is not None:
            count, created, size, codec = match.groups()
            current.append(Batch(int(count), int(created), int(size), codec))
    return found


def summarise(by_partition: dict[int, list[Batch]], since_ms: int, until_ms: int) -> Batches:
    """The batches created within [since_ms, until_ms], over every partition."""
    kept = {
        partition: [b for b in batches if since_ms <= b.created_ms <= until_ms]
        for partition, batches in by_partition.items()
    }
    every = [batch for batches in kept.values() for batch in batches]
    records = sum(batch.records for batch in every)
    return Batches(
        batches=len(every),
        records=records,
        records_per_batch=round(records / len(every), 2) if every else 0.0,
        bytes_per_batch=round(sum(b.size for b in every) / len(every), 1) if every else 0.0,
        partitions=sum(1 for batches in kept.values() if batches),
        codecs=sorted({batch.codec for batch in every}),
    )


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java") or "java"


def read(data_dir: Path, topic: str) -> dict[int, list[Batch]]:
    """Every batch of every partition of `topic`, from the segment files under `data_dir`.

    One run of the tool for all the files: a JVM takes seconds to start.
    """
    files: dict[str, int] = {}
    for directory in data_dir.glob(f"{glob_escape(topic)}-*"):
        partition = directory.name.removeprefix(f"{topic}-")
        if partition.isdigit():
            for log in sorted(directory.glob("*.log")):
                files[str(log)] = int(partition)
    by_partition: dict[int, list[Batch]] = {partition: [] for partition in files.values()}
    if not files:
        return by_partition
    command = [java(), "-cp", f"{LIB}/*", TOOL, "--files", ",".join(files)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"DumpLogSegments failed ({result.returncode}): {result.stderr}")
    for path, batches in parse(result.stdout).items():
        by_partition[files[path]].extend(batches)
    return by_partition


def glob_escape(name: str) -> str:
    """`name` matched literally by glob (topic names may hold none of `*?[`, but say so)."""
    return re.sub(r"([*?\[])", r"[\1]", name)
