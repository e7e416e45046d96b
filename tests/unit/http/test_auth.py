"""Who may post: tokens in path, query and header; HMAC signatures; the IP allow-list."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bridge.http.app import Bridge
from bridge.http.vendor_signature import VendorKeys, VendorSignatureError
from bridge.settings import Settings
from tests.fakes import RecordingPublisher, client_of
from tests.samples import VIDEO_SAMPLE
from tests.signatures import openssl_gateway_signature, openssl_vendor_signature

TOKEN = "s3cret-token-0123456789"
OLD_TOKEN = "previous-token-abcdef"
HMAC_SECRET = "hmac-secret-0123456789"
JSON = {"content-type": "application/json"}
ROUTE = "/callbacks/video-upload"


def bridge_with(**settings: object) -> tuple[Bridge, RecordingPublisher]:
    publisher = RecordingPublisher()
    return Bridge(Settings(**settings), publisher), publisher  # type: ignore[arg-type]


@pytest.fixture
def tokens() -> tuple[Bridge, RecordingPublisher]:
    return bridge_with(auth_tokens=(TOKEN, OLD_TOKEN))


async def post(
    bridge: Bridge,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes = VIDEO_SAMPLE,
    client: tuple[str, int] = ("127.0.0.1", 40000),
) -> httpx.Response:
    async with client_of(bridge, client) as http:
        return await http.post(url, content=body, headers={**JSON, **(headers or {})})


async def raw_post(bridge: Bridge, path: str) -> tuple[list[dict[str, Any]], int]:
    """POST the sample as raw ASGI: what was sent back, and how often the body was asked for."""
    sent: list[dict[str, Any]] = []
    asked = 0
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 40000),
        "server": ("bridge", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
        "asgi": {"version": "3.0"},
    }

    async def receive() -> dict[str, object]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": VIDEO_SAMPLE, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await bridge(scope, receive, send)  # type: ignore[arg-type]
    return sent, asked


def auth_failures(bridge: Bridge, reason: str) -> float:
    value = bridge.metrics.registry.get_sample_value(
        "bridge_auth_failures_total", {"reason": reason}
    )
    return value or 0.0


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (f"{ROUTE}/{TOKEN}", {}),
        (f"{ROUTE}?token={TOKEN}", {}),
        (ROUTE, {"X-Callback-Token": TOKEN}),
        (f"{ROUTE}/{OLD_TOKEN}", {}),  # several tokens at once, for rotation
        (f"{ROUTE}/{TOKEN}?token={OLD_TOKEN}", {}),
    ],
    ids=["path", "query", "header", "second-token", "path-and-query"],
)
async def test_a_valid_token_is_admitted(
    tokens: tuple[Bridge, RecordingPublisher], url: str, headers: dict[str, str]
) -> None:
    bridge, publisher = tokens

    response = await post(bridge, url, headers)

    assert response.status_code == 200
    assert len(publisher.records) == 2


@pytest.mark.parametrize(
    ("url", "headers", "status", "message", "reason"),
    [
        (ROUTE, {}, 401, "Missing callback credentials", "missing"),
        (
            f"{ROUTE}/wrong-token-0123456789",
            {},
            401,
            "Invalid callback credentials",
            "invalid_token",
        ),
        (f"{ROUTE}?token=", {}, 401, "Invalid callback credentials", "invalid_token"),
        (ROUTE, {"X-Callback-Token": "nope"}, 401, "Invalid callback credentials", "invalid_token"),
        (f"{ROUTE}/{TOKEN}?token=wrong", {}, 401, "Invalid callback credentials", "invalid_token"),
        (
            f"{ROUTE}?token={TOKEN}&token=wrong",
            {},
            401,
            "More than one token parameter",
            "ambiguous",
        ),
        (
            f"{ROUTE}?token={TOKEN}&token={TOKEN}",
            {},
            401,
            "More than one token parameter",
            "ambiguous",
        ),
        (f"{ROUTE}/{TOKEN}/extra", {}, 401, "Missing callback credentials", "missing"),
        (f"{ROUTE}/{TOKEN.upper()}", {}, 401, "Invalid callback credentials", "invalid_token"),
        (f"/CALLBACKS/video-upload/{TOKEN}", {}, 401, "Missing callback credentials", "missing"),
        (f"{ROUTE}/{TOKEN[:-1]}", {}, 401, "Invalid callback credentials", "invalid_token"),
        (f"{ROUTE}/{TOKEN}%2Fx", {}, 401, "Missing callback credentials", "missing"),
    ],
    ids=[
        "none",
        "wrong-path",
        "empty-query",
        "wrong-header",
        "one-of-two-wrong",
        "repeated-query",
        "repeated-same",
        "trailing-segment",
        "case",
        "route-case",
        "prefix",
        "encoded-slash",
    ],
)
async def test_wrong_missing_and_malformed_credentials_are_refused(
    tokens: tuple[Bridge, RecordingPublisher],
    url: str,
    headers: dict[str, str],
    status: int,
    message: str,
    reason: str,
) -> None:
    bridge, publisher = tokens

    response = await post(bridge, url, headers)

    assert response.status_code == status
    assert response.json() == {"code": status, "message": message}
    assert publisher.records == []
    assert auth_failures(bridge, reason) == 1


@pytest.mark.parametrize(
    "path",
    [
        f"/callbacks/../callbacks/video-upload/{TOKEN}",
        f"//callbacks/video-upload/{TOKEN}",
        f"/callbacks//video-upload/{TOKEN}",
        f"/callbacks/video-upload/{TOKEN}/",
    ],
)
async def test_unnormalised_paths_are_not_a_way_in(
    tokens: tuple[Bridge, RecordingPublisher], path: str
) -> None:
    """Sent as raw ASGI, since HTTP clients normalise such paths before sending."""
    bridge, publisher = tokens

    sent, _ = await raw_post(bridge, path)

    assert sent[0]["status"] == 401
    assert publisher.records == []


async def test_public_routes_need_no_credentials(
    tokens: tuple[Bridge, RecordingPublisher],
) -> None:
    bridge, _ = tokens
    async with client_of(bridge) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200


async def test_tokens_never_reach_the_logs_or_metrics(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # before the bridge is made: it reads the level once
    bridge, _ = bridge_with(auth_tokens=(TOKEN, OLD_TOKEN))

    await post(bridge, f"{ROUTE}/{TOKEN}")
    await post(bridge, f"{ROUTE}?token=wrong-but-secret-too")
    bridge.app.flush()  # the access lines, as at shutdown

    access = [json.loads(line) for line in capfd.readouterr().err.splitlines()]
    logged = "\n".join(
        f"{r.getMessage()} {vars(r)}" for r in caplog.records if r.name.startswith("bridge")
    )
    exposed = bridge.metrics.exposition().decode()
    assert [(line["route"], line["status"]) for line in access] == [
        ("/callbacks/video-upload", 200),
        ("/callbacks/video-upload", 401),
    ]
    for secret in (TOKEN, "wrong-but-secret-too"):
        assert secret not in json.dumps(access)
        assert secret not in logged
        assert secret not in exposed
    assert 'route="/callbacks/video-upload",status="200"' in exposed
    assert 'route="/callbacks/video-upload",status="401"' in exposed


def signed(body: bytes, secret: str = HMAC_SECRET, at: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    return {
        "X-Callback-Timestamp": timestamp,
        "X-Callback-Signature": openssl_gateway_signature(secret, f"{timestamp}.".encode() + body),
    }


def test_the_gateway_signature_of_a_known_message() -> None:
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac hmac-secret-0123456789
    assert openssl_gateway_signature(HMAC_SECRET, b"1700000000.{}") == (
        "sha256=7e01b275f1ccd8d3d461d473d4170e61ec293217dcd4df09ae46afd4b1df7910"
    )


async def test_a_valid_signature_is_admitted() -> None:
    bridge, publisher = bridge_with(hmac_secrets=(HMAC_SECRET,))

    response = await post(bridge, ROUTE, signed(VIDEO_SAMPLE))

    assert response.status_code == 200
    assert len(publisher.records) == 2


@pytest.mark.parametrize(
    ("headers", "message", "reason"),
    [
        (
            lambda: signed(VIDEO_SAMPLE, secret="another-secret-0123456"),
            "Invalid signature",
            "bad_signature",
        ),
        (lambda: signed(b"a different body"), "Invalid signature", "bad_signature"),
        (
            lambda: signed(VIDEO_SAMPLE, at=int(time.time()) - 3600),
            "Signature timestamp outside the tolerance",
            "expired",
        ),
        (
            lambda: {"X-Callback-Signature": "sha256=00"},
            "Missing or malformed signature timestamp",
            "bad_signature",
        ),
        (
            lambda: {"X-Callback-Timestamp": "yesterday", "X-Callback-Signature": "00"},
            "Missing or malformed signature timestamp",
            "bad_signature",
        ),
        (dict, "Missing callback credentials", "missing"),
    ],
    ids=["wrong-secret", "tampered-body", "expired", "no-timestamp", "bad-timestamp", "unsigned"],
)
async def test_bad_signatures_are_refused(
    headers: Callable[[], dict[str, str]], message: str, reason: str
) -> None:
    """Each case signs when it runs, not when collected: a slow run must not expire them."""
    bridge, publisher = bridge_with(hmac_secrets=(HMAC_SECRET,))

    response = await post(bridge, ROUTE, headers())

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": message}
    assert publisher.records == []
    assert auth_failures(bridge, reason) == 1


@pytest.mark.parametrize(
    ("signature", "status", "message"),
    [
        (lambda: signed(VIDEO_SAMPLE), 200, None),
        (lambda: signed(b"a different body"), 401, "Invalid signature"),
        (
            lambda: signed(VIDEO_SAMPLE, at=int(time.time()) - 3600),
            401,
            "Signature timestamp outside the tolerance",
        ),
        (
            lambda: {"X-Callback-Signature": "sha256=00"},
            401,
            "Missing or malformed signature timestamp",
        ),
    ],
    ids=["good", "tampered-body", "expired", "no-timestamp"],
)
async def test_a_signature_next_to_a_valid_token_must_be_valid_too(
    signature: Callable[[], dict[str, str]], status: int, message: str | None
) -> None:
    bridge, publisher = bridge_with(auth_tokens=(TOKEN,), hmac_secrets=(HMAC_SECRET,))

    response = await post(bridge, f"{ROUTE}/{TOKEN}", signature())

    assert response.status_code == status
    if message is None:
        assert len(publisher.records) == 2
    else:
        assert response.json() == {"code": 401, "message": message}
        assert publisher.records == []


async def test_a_valid_token_alone_is_enough_when_signatures_are_accepted_too() -> None:
    bridge, publisher = bridge_with(auth_tokens=(TOKEN,), hmac_secrets=(HMAC_SECRET,))

    response = await post(bridge, f"{ROUTE}/{TOKEN}")

    assert response.status_code == 200
    assert len(publisher.records) == 2


@pytest.mark.parametrize(
    ("client", "forwarded", "status"),
    [
        ("203.0.113.7", None, 200),
        ("198.51.100.1", None, 403),
        ("10.0.0.2", "203.0.113.7", 200),  # through a trusted proxy
        ("10.0.0.2", "198.51.100.1", 403),
        ("10.0.0.2", "198.51.100.1, 203.0.113.7", 200),  # the nearest untrusted hop counts
        ("10.0.0.2", "203.0.113.7, 198.51.100.1", 403),
        ("198.51.100.1", "203.0.113.7", 403),  # an untrusted peer cannot claim an address
        ("10.0.0.2", "not-an-address", 403),
    ],
)
async def test_ip_allow_list_believes_forwarded_for_only_from_trusted_proxies(
    client: str, forwarded: str | None, status: int
) -> None:
    bridge, publisher = bridge_with(
        auth_tokens=(TOKEN,), allowed_cidrs=("203.0.113.0/24",), trusted_proxies=("10.0.0.0/8",)
    )
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}

    response = await post(bridge, f"{ROUTE}/{TOKEN}", headers, client=(client, 40000))

    assert response.status_code == status
    if status == 403:
        assert response.json() == {"code": 403, "message": "Address not allowed"}
        assert publisher.records == []
        assert auth_failures(bridge, "address") == 1
    else:
        assert len(publisher.records) == 2


def test_no_credentials_configured_is_refused_unless_allowed() -> None:
    with pytest.raises(ValueError, match="no BRIDGE_AUTH_TOKENS set"):
        Bridge(Settings(), RecordingPublisher())

    Bridge(Settings(allow_unauthenticated=True), RecordingPublisher())


# -- the vendor's signature ----------------------------------------------------------

VENDOR = {"vendor_keys": ("AKIDone:one-secret-key", "AKIDtwo:two-secret-key")}
PUBLIC_URL = "https://bridge.example.com/vod"


def signed_by(
    access_key: str, secret: str, path: str, body: bytes = VIDEO_SAMPLE
) -> dict[str, str]:
    signature = openssl_vendor_signature(secret, f"{PUBLIC_URL}{path}".encode() + b"\n" + body)
    return {"Authorization": f"{access_key}:{signature}"}


def test_the_signature_of_a_known_message() -> None:
    # printf 'https://bridge.example.com/vod/callbacks/video-upload\n{}' \
    #   | openssl dgst -sha1 -hmac one-secret-key -binary | base64 | tr '+/' '-_'
    known = b"AKIDone:cyQ_8SC2VKf-9exfh_Y89wsM-Ng="
    keys = VendorKeys(["AKIDone:one-secret-key"], PUBLIC_URL + "/")

    keys.verify(known, b"/callbacks/video-upload", b"{}")
    keys.verify(known.rstrip(b"="), b"/callbacks/video-upload", b"{}")  # padding is optional
    with pytest.raises(VendorSignatureError, match="^Invalid vendor signature$"):
        keys.verify(known, b"/callbacks/video-upload", b"{ }")
    with pytest.raises(VendorSignatureError, match="^Invalid vendor signature$"):
        keys.verify(known, b"/callbacks/video-upload/", b"{}")


@pytest.mark.parametrize("mode", ["optional", "required"])
async def test_a_vendor_signature_with_any_of_the_pairs_is_admitted(mode: str) -> None:
    bridge, publisher = bridge_with(
        auth_tokens=(TOKEN,), vendor_signature=mode, public_url=PUBLIC_URL, **VENDOR
    )
    path = f"{ROUTE}/{TOKEN}"

    first = await post(bridge, path, signed_by("AKIDone", "one-secret-key", path))
    second = await post(bridge, path, signed_by("AKIDtwo", "two-secret-key", path))

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(publisher.records) == 4


async def test_an_optional_vendor_signature_is_verified_only_when_present() -> None:
    bridge, publisher = bridge_with(
        auth_tokens=(TOKEN,), vendor_signature="optional", public_url=PUBLIC_URL, **VENDOR
    )
    path = f"{ROUTE}/{TOKEN}"

    absent = await post(bridge, path)
    wrong = await post(bridge, path, signed_by("AKIDone", "two-secret-key", path))

    assert absent.status_code == 200
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"code": 401, "message": "Invalid vendor signature"},
    )
    assert len(publisher.records) == 2
    assert auth_failures(bridge, "vendor_bad_signature") == 1


async def test_with_the_vendor_signature_off_the_authorization_header_is_not_read() -> None:
    bridge, publisher = bridge_with(auth_tokens=(TOKEN,))

    response = await post(bridge, f"{ROUTE}/{TOKEN}", {"Authorization": "AKIDone:forged"})

    assert response.status_code == 200


async def test_a_required_vendor_signature_is_refused_before_the_body_when_missing() -> None:
    bridge, publisher = bridge_with(vendor_signature="required", public_url=PUBLIC_URL, **VENDOR)

    sent, asked = await raw_post(bridge, ROUTE)

    assert (sent[0]["status"], asked) == (401, 0)
    assert json.loads(sent[1]["body"]) == {"code": 401, "message": "Missing vendor signature"}
    assert publisher.records == []
    assert auth_failures(bridge, "vendor_missing") == 1
