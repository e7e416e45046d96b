"""The client certificate's validity, checked before any broker is asked."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bridge.kafka.preflight import certificate_problem


def self_signed(where: Path, days: str) -> tuple[Path, str]:
    cert, key, csr = where / f"cert{days}.pem", where / "key.pem", where / "cert.csr"
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bridge",
         "-keyout", key, "-out", csr],
        capture_output=True, check=True,
    )  # fmt: skip
    subprocess.run(  # a negative number of days: a certificate that has expired
        ["openssl", "x509", "-req", "-in", csr, "-signkey", key, "-days", days, "-out", cert],
        capture_output=True, check=True,
    )  # fmt: skip
    end = subprocess.run(
        ["openssl", "x509", "-in", cert, "-noout", "-enddate"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return cert, end.stdout.strip().removeprefix("notAfter=")


def test_a_valid_certificate_has_no_problem(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, "2")

    assert certificate_problem(str(cert)) is None
    assert certificate_problem("") is None


def test_an_expired_certificate_is_named_with_its_end(tmp_path: Path) -> None:
    cert, not_after = self_signed(tmp_path, "-1")

    assert certificate_problem(str(cert)) == (
        f"the client certificate BRIDGE_KAFKA_SSL_CERTFILE={cert} expired on {not_after}"
    )


def test_a_certificate_not_valid_yet(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, "2")

    problem = certificate_problem(str(cert), now=time.time() - 86_400)

    assert problem is not None
    assert problem.startswith(
        f"the client certificate BRIDGE_KAFKA_SSL_CERTFILE={cert} is not valid before "
    )


def test_an_unreadable_certificate(tmp_path: Path) -> None:
    path = tmp_path / "nonsense.pem"
    path.write_text("not a certificate")

    problem = certificate_problem(str(path))

    assert problem is not None
    assert problem.startswith(f"BRIDGE_KAFKA_SSL_CERTFILE={path} cannot be read as a certificate: ")
