"""The command line's failures, each one line on stderr and an exit code; no Kafka needed.

What the commands do with a broker is in tests/e2e/test_cli.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.samples import EXAMPLES


def test_send_reports_an_unreachable_bridge() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge",
            "send",
            str(EXAMPLES / "video-upload-callback.json"),
            "--url",
            "http://127.0.0.1:9/callbacks/video-upload",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "bridge: cannot reach http://127.0.0.1:9/callbacks/video-upload: [Errno 111] "
        "Connection refused\n"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {},
            "no BRIDGE_AUTH_TOKENS set; refusing to accept unauthenticated callbacks "
            "(set BRIDGE_VENDOR_SIGNATURE=required with BRIDGE_VENDOR_KEYS, "
            "or BRIDGE_ALLOW_UNAUTHENTICATED=true for local development)",
        ),
        (
            {"BRIDGE_VENDOR_SIGNATURE": "optional"},
            "BRIDGE_VENDOR_SIGNATURE=optional needs BRIDGE_VENDOR_KEYS (AccessKey:SecretKey pairs)",
        ),
        (
            {"BRIDGE_VENDOR_SIGNATURE": "required", "BRIDGE_VENDOR_KEYS": "AK:SK"},
            "BRIDGE_VENDOR_SIGNATURE=required needs BRIDGE_PUBLIC_URL, "
            "the callback URL's base as the platform calls it",
        ),
        (
            {
                "BRIDGE_VENDOR_SIGNATURE": "required",
                "BRIDGE_VENDOR_KEYS": "AK:one-secret,AK:other-secret",
                "BRIDGE_PUBLIC_URL": "https://bridge.example.com",
            },
            "BRIDGE_VENDOR_KEYS names the AccessKey AK twice",
        ),
    ],
    ids=["no-credentials", "vendor-without-keys", "vendor-without-url", "vendor-key-twice"],
)
def test_serve_refuses_to_start_without_usable_credentials(
    environ: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (2, f"bridge: {message}\n")


def test_a_bad_setting_stops_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env={"BRIDGE_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == "bridge: BRIDGE_PORT='eighty' is invalid: Expected `int`, got `str`\n"
