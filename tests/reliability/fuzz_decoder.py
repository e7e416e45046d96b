"""Coverage-guided fuzzing of `decode_callback` with atheris (libFuzzer), for a fixed budget.

    python -m tests.reliability.fuzz_decoder [--seconds 120] [libFuzzer flags...]

Every input is decoded as each callback kind; the decoder may answer with its
4xx errors (`NotJson`, `WrongShape`) and nothing else: any other exception is
a crash, reported with the input that caused it. The corpus is seeded with
the vendor's sample and a few hostile shapes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

from tests.reliability.hostile import nested
from tests.samples import VIDEO_SAMPLE

SEEDS = [
    VIDEO_SAMPLE,
    b'{"code":200,"data":{"materialList":[{"id":"M-1","fileSize":2048}],"total":"1"}}',
    b'{"data":{"videoListInfo":[{"videoId":"a","videoId":"b"},null,{"encrypt":"x"}]}}',
    b'{"data":{"videoListInfo":[{"videoId":"\\ud83d\\ude00","x":' + nested(50) + b"}]}}",
    b'{"data":{"videoListInfo":[{"videoId":"n","videoSize":' + b"9" * 40 + b"}]}}",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="the fuzzing budget")
    args, libfuzzer_flags = parser.parse_known_args()
    atheris = importlib.import_module("atheris")  # Linux x86-64 wheels; see pyproject.toml
    with atheris.instrument_imports(include=["bridge"]):
        from bridge.errors import NotJson, WrongShape
        from bridge.kinds import KINDS
        from bridge.records import decode_callback

    def one_input(data: bytes) -> None:
        for kind in KINDS:
            try:
                decode_callback(kind, data)
            except (NotJson, WrongShape):
                pass

    with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as corpus:
        for number, seed in enumerate(SEEDS):
            (Path(corpus) / f"seed-{number}").write_bytes(seed)
        atheris.Setup(
            [
                sys.argv[0],
                corpus,
                f"-max_total_time={args.seconds}",
                "-max_len=65536",
                "-print_final_stats=1",
                *libfuzzer_flags,
            ],
            one_input,
        )
        atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
