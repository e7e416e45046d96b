"""The API request signer against known answers computed by `sha256sum` and `openssl`.

The canonical request is written out here by hand, as the platform's page
describes it; only the tools' digests are compared with the signer's.
"""

from __future__ import annotations

import subprocess

import pytest

from bridge.vod.signer import Scheme, signed_headers

ACCESS_KEY = "AK-test-0001"
SECRET_KEY = "sk-0123456789abcdef"
TIMESTAMP = 1764580000
CONTENT_TYPE = "application/json; charset=utf-8"
HOST = "api.cloudv.haplat.net"
BODY = b'{"startTime":"2026-12-01 10:00:00","endTime":"2026-12-01 12:00:00","pageIndex":1}'


def sha256sum(data: bytes) -> str:
    done = subprocess.run(["sha256sum"], input=data, capture_output=True, check=True)
    return done.stdout.split()[0].decode()


def openssl_hmac(key: str, data: bytes) -> str:
    done = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", key, "-r"],
        input=data,
        capture_output=True,
        check=True,
    )
    return done.stdout.split()[0].decode()


def sign(scheme: Scheme, method: str, url: str, body: bytes) -> dict[str, str]:
    """The signer's headers for this module's keys, content type and time."""
    return signed_headers(
        scheme=scheme,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        method=method,
        url=url,
        body=body,
        content_type=CONTENT_TYPE,
        timestamp=TIMESTAMP,
    )


CASES = [
    # scheme, algorithm, method, path, query as sent, query as signed, body
    ("ws3", "WS3-HMAC-SHA256", "POST", "/vod/videoManage/getVideoList", "", "", BODY),
    ("cnc", "CNC-HMAC-SHA256", "POST", "/vod/videoManage/getVideoList", "", "", BODY),
    (
        "ws3",
        "WS3-HMAC-SHA256",
        "GET",
        "/vod/videoManage/getVideoList",
        "startTime=2026-12-01%2010%3A00%3A00&pageIndex=2",
        "startTime=2026-12-01 10:00:00&pageIndex=2",
        b"",
    ),
    (
        "cnc",
        "CNC-HMAC-SHA256",
        "GET",
        "/vod/videoManage/getVideoList",
        "videoId=9B0F7BA8&pageSize=50",
        "videoId=9B0F7BA8&pageSize=50",
        b"",
    ),
]


@pytest.mark.parametrize(("scheme", "algorithm", "method", "path", "sent", "signed", "body"), CASES)
def test_signature_matches_an_independent_computation(
    scheme: Scheme, algorithm: str, method: str, path: str, sent: str, signed: str, body: bytes
) -> None:
    url = f"https://{HOST}{path}" + (f"?{sent}" if sent else "")
    canonical = (
        f"{method}\n{path}\n{signed}\n"
        f"content-type:{CONTENT_TYPE}\nhost:{HOST}\n\n"
        f"content-type;host\n{sha256sum(body)}"
    )
    to_sign = f"{algorithm}\n{TIMESTAMP}\n{sha256sum(canonical.encode())}"
    expected = openssl_hmac(SECRET_KEY, to_sign.encode())

    headers = sign(scheme, method, url, body)

    assert headers["Authorization"] == (
        f"{algorithm} Credential={ACCESS_KEY}, SignedHeaders=content-type;host, "
        f"Signature={expected}"
    )


@pytest.mark.parametrize(
    ("scheme", "host", "own"),
    [
        pytest.param(
            "ws3",
            HOST,
            {"X-WS-AccessKey": ACCESS_KEY, "X-WS-Timestamp": "1764580000"},
            id="classic",
        ),
        pytest.param(
            "cnc",
            "api.cdnetworks.com",
            {
                "x-cnc-accessKey": ACCESS_KEY,
                "x-cnc-timestamp": "1764580000",
                "x-cnc-auth-method": "AKSK",
            },
            id="gateway",
        ),
    ],
)
def test_scheme_headers(scheme: Scheme, host: str, own: dict[str, str]) -> None:
    headers = sign(scheme, "POST", f"https://{host}/vod/videoManage/getVideoList", BODY)

    assert {k: v for k, v in headers.items() if k != "Authorization"} == {
        "Host": host,
        "Content-Type": CONTENT_TYPE,
        **own,
    }
