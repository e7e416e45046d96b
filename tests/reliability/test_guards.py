"""Every guard proven through `bridge serve` over real sockets, bytes written by hand.

The ASGI tests (tests/unit/http/test_auth.py) are quick; these are the ones that show
what a user's server does: uvicorn's parsing and its proxy handling in front of
the bridge's own. Each case has its expected status, and a case that must not
produce is checked to have put nothing in Kafka.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from bridge.settings import Settings
from tests.kafka_tools import read_all
from tests.ports import free_port
from tests.reliability import rawhttp
from tests.running import until
from tests.samples import sample_video, video_body
from tests.servers import BridgeProcess, fresh_settings
from tests.signatures import openssl_gateway_signature, openssl_vendor_signature

pytestmark = pytest.mark.kafka

TOKEN = "guards-token-0123456789abcdef"
WRONG = "guards-token-0123456789abcdeF"
ROUTE = "/callbacks/video-upload"
PUBLIC_URL = "https://bridge.example.com"
Headers = list[tuple[str, str]]
VENDOR_KEYS = {"AKIDfirst": "first-secret-key-0123", "AKIDsecond": "second-secret-key-4567"}


@dataclass
class Guarded:
    bridge: BridgeProcess
    bootstrap: str
    topic: str

    async def send(self, raw: bytes, source: str | None = None) -> rawhttp.RawResponse:
        return await rawhttp.exchange(self.bridge.url, raw, source=source)

    async def refusals(self) -> dict[str, int]:
        """`bridge_auth_failures_total` by reason, from the bridge's own /metrics."""
        metrics = await self.send(rawhttp.request("GET", "/metrics", content_type=None))
        prefix = 'bridge_auth_failures_total{reason="'
        counts = {}
        for line in metrics.body.decode().splitlines():
            if line.startswith(prefix):
                reason, _, value = line[len(prefix) :].partition('"} ')
                counts[reason] = int(float(value))
        return counts

    async def produced(self, prefix: str) -> list[str]:
        """The keys in the video topic that start with `prefix`, in the topic's order."""
        records = await read_all(self.bootstrap, self.topic)
        return [r.key.decode() for r in records if r.key.startswith(prefix.encode())]


@pytest.fixture
def prefix() -> str:
    return f"guard-{uuid.uuid4().hex[:12]}"


def body_for(video_id: str) -> bytes:
    return video_body(sample_video(videoId=video_id))


def post(
    target: str, body: bytes, headers: list[tuple[str, str]] | None = None, *, version: str = "1.1"
) -> bytes:
    raw = rawhttp.request("POST", target, body, headers)
    return raw if version == "1.1" else raw.replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)


def bridge_for(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory, name: str, **extra: str
) -> Iterator[Guarded]:
    settings = fresh_settings(bootstrap, topic_partitions="1", **extra)
    log = tmp_path_factory.mktemp(name) / "bridge.log"
    with BridgeProcess(log, **settings) as bridge:
        yield Guarded(bridge, bootstrap, settings["topic_video_upload"])
        assert "Traceback" not in bridge.log()


# -- who the client is -------------------------------------------------------------


@pytest.fixture(scope="module", params=[1, 2], ids=["one-worker", "two-workers"])
def allow_listed(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    """Tokens and an allow-list of 10.0.0.0/8, no trusted proxies: loopback is not allowed."""
    yield from bridge_for(
        kafka_bootstrap,
        tmp_path_factory,
        "allow-listed",
        auth_tokens=TOKEN,
        allowed_cidrs="10.0.0.0/8",
        workers=str(request.param),
    )


SPOOFS = [
    [],
    [("X-Forwarded-For", "10.1.2.3")],
    [("X-Forwarded-For", "10.1.2.3, 127.0.0.1")],
    [("X-Forwarded-For", "10.1.2.3"), ("X-Forwarded-For", "10.4.5.6")],
    [("Forwarded", "for=10.1.2.3")],
    [("Forwarded", 'for="10.1.2.3";proto=https, for=10.4.5.6')],
    [("X-Real-IP", "10.1.2.3")],
    [("X-Forwarded-For", "10.1.2.3"), ("Forwarded", "for=10.1.2.3"), ("X-Real-IP", "10.1.2.3")],
]


@pytest.mark.parametrize("headers", SPOOFS, ids=lambda h: "+".join(n for n, _ in h) or "none")
async def test_forwarded_headers_from_an_untrusted_peer_are_not_believed(
    allow_listed: Guarded, prefix: str, headers: list[tuple[str, str]]
) -> None:
    response = await allow_listed.send(post(f"{ROUTE}/{TOKEN}", body_for(prefix), headers))

    assert (response.status, response.json()) == (
        403,
        {"code": 403, "message": "Address not allowed"},
    )
    assert await allow_listed.produced(prefix) == []


@pytest.fixture(scope="module")
def behind_sidecar(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Guarded, str]]:
    """A bridge that trusts the sidecar on 127.0.0.1, and that sidecar's address."""
    for guarded in bridge_for(
        kafka_bootstrap,
        tmp_path_factory,
        "sidecar",
        auth_tokens=TOKEN,
        allowed_cidrs="10.0.0.0/8,127.0.0.2/32",
        trusted_proxies="127.0.0.1/32",
    ):
        port = free_port()
        sidecar = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "tests.reliability.sidecar",
                str(port),
                str(guarded.bridge.port),
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert sidecar.stdout is not None
            assert sidecar.stdout.readline() == b"listening\n"
            yield guarded, f"http://127.0.0.1:{port}"
        finally:
            sidecar.kill()
            sidecar.wait()
            if sidecar.stdout is not None:
                sidecar.stdout.close()


async def via(sidecar: str, raw: bytes, source: str) -> rawhttp.RawResponse:
    return await rawhttp.exchange(sidecar, raw, source=source)


async def test_behind_a_trusted_sidecar_the_real_clients_address_decides(
    behind_sidecar: tuple[Guarded, str], prefix: str
) -> None:
    guarded, sidecar = behind_sidecar
    spoofed = [("X-Forwarded-For", "10.1.2.3")]
    cases = [
        ("allowed client", None, "127.0.0.2", 200),
        ("allowed client claiming another address", spoofed, "127.0.0.2", 200),
        ("client not allowed", None, "127.0.0.3", 403),
        ("client not allowed, X-Forwarded-For spoofed", spoofed, "127.0.0.3", 403),
        (
            "client not allowed, Forwarded spoofed",
            [("Forwarded", "for=10.1.2.3")],
            "127.0.0.3",
            403,
        ),
        ("client not allowed, X-Real-IP spoofed", [("X-Real-IP", "10.1.2.3")], "127.0.0.3", 403),
    ]
    answers = []
    for n, (case, headers, source, _) in enumerate(cases):
        response = await via(
            sidecar, post(f"{ROUTE}/{TOKEN}", body_for(f"{prefix}-{n}"), headers), source
        )
        answers.append((case, headers, source, response.status))

    assert answers == cases
    assert await guarded.produced(prefix) == [f"{prefix}-0", f"{prefix}-1"]


# -- the vendor's signature --------------------------------------------------------


def vendor_header(access_key: str, url: str, body: bytes, *, secret: str | None = None) -> str:
    signature = openssl_vendor_signature(
        secret or VENDOR_KEYS[access_key], url.encode() + b"\n" + body
    )
    return f"{access_key}:{signature}"


@pytest.fixture(scope="module")
def vendor_signed(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    """The vendor signature required, and no token: it is enough on its own."""
    yield from bridge_for(
        kafka_bootstrap,
        tmp_path_factory,
        "vendor",
        vendor_signature="required",
        vendor_keys=",".join(f"{ak}:{sk}" for ak, sk in VENDOR_KEYS.items()),
        public_url=PUBLIC_URL,
    )


async def test_a_request_signed_as_the_platform_does_is_admitted(
    vendor_signed: Guarded, prefix: str
) -> None:
    first, second = body_for(f"{prefix}-0"), body_for(f"{prefix}-1")
    url = f"{PUBLIC_URL}{ROUTE}"
    # The platform signs the URL without its query, whichever key pair it picked.
    answers = [
        await vendor_signed.send(
            post(ROUTE, first, [("Authorization", vendor_header("AKIDfirst", url, first))])
        ),
        await vendor_signed.send(
            post(
                f"{ROUTE}?source=vod",
                second,
                [("Authorization", vendor_header("AKIDsecond", url, second))],
            )
        ),
    ]

    assert [(a.status, a.json()["accepted"]) for a in answers] == [(200, 1), (200, 1)]
    assert await vendor_signed.produced(prefix) == [f"{prefix}-0", f"{prefix}-1"]


async def test_a_token_in_the_signed_url_is_part_of_what_is_signed(
    vendor_signed: Guarded, prefix: str
) -> None:
    body = body_for(prefix)
    path = f"{ROUTE}/{TOKEN}"
    header = vendor_header("AKIDfirst", f"{PUBLIC_URL}{path}", body)

    response = await vendor_signed.send(post(path, body, [("Authorization", header)]))

    assert response.status == 200
    assert await vendor_signed.produced(prefix) == [prefix]


async def test_a_base64_body_is_verified_as_it_was_received(
    vendor_signed: Guarded, prefix: str
) -> None:
    json_body = body_for(prefix)
    received = base64.urlsafe_b64encode(json_body).rstrip(b"=") + b"\n"
    url = f"{PUBLIC_URL}{ROUTE}"
    signed_received = [("Authorization", vendor_header("AKIDfirst", url, received))]
    signed_decoded = [("Authorization", vendor_header("AKIDfirst", url, json_body))]

    refused = await vendor_signed.send(post(ROUTE, received, signed_decoded))
    admitted = await vendor_signed.send(post(ROUTE, received, signed_received))

    assert (refused.status, refused.json()["message"]) == (401, "Invalid vendor signature")
    assert (admitted.status, admitted.json()["accepted"]) == (200, 1)
    assert await vendor_signed.produced(prefix) == [prefix]


def _forged(prefix: str) -> list[tuple[str, str, bytes, list[tuple[str, str]], str]]:
    """(case, target, body, headers, message): each must be refused with that message."""
    url = f"{PUBLIC_URL}{ROUTE}"
    body = body_for(prefix)
    good = vendor_header("AKIDfirst", url, body)
    changed = body.replace(b'"videoId": "', b'"videoId": "x', 1)
    assert changed != body
    return [
        (
            "one byte of the body changed",
            ROUTE,
            changed,
            [("Authorization", good)],
            "Invalid vendor signature",
        ),
        (
            "another key's signature",
            ROUTE,
            body,
            [("Authorization", "AKIDfirst:" + good.partition(":")[2].swapcase())],
            "Invalid vendor signature",
        ),
        (
            "signed with the other pair's secret",
            ROUTE,
            body,
            [
                (
                    "Authorization",
                    vendor_header("AKIDfirst", url, body, secret=VENDOR_KEYS["AKIDsecond"]),
                )
            ],
            "Invalid vendor signature",
        ),
        (
            "the URL signed with its query",
            f"{ROUTE}?source=vod",
            body,
            [("Authorization", vendor_header("AKIDfirst", f"{url}?source=vod", body))],
            "Invalid vendor signature",
        ),
        (
            "a truncated signature",
            ROUTE,
            body,
            [("Authorization", good[:-5])],
            "Invalid vendor signature",
        ),
        (
            "an unknown AccessKey",
            ROUTE,
            body,
            [("Authorization", "AKIDother:" + good.partition(":")[2])],
            "Unknown vendor AccessKey",
        ),
        (
            "no colon",
            ROUTE,
            body,
            [("Authorization", good.replace(":", ""))],
            "Authorization is not <AccessKey>:<signature>",
        ),
        ("no header", ROUTE, body, [], "Missing vendor signature"),
        (
            "two headers",
            ROUTE,
            body,
            [("Authorization", good), ("Authorization", good)],
            "More than one Authorization header",
        ),
        (
            "signed for another host",
            ROUTE,
            body,
            [
                (
                    "Authorization",
                    vendor_header("AKIDfirst", f"https://evil.example.com{ROUTE}", body),
                )
            ],
            "Invalid vendor signature",
        ),
    ]


async def test_forged_vendor_signatures_are_refused_and_write_nothing(
    vendor_signed: Guarded, prefix: str
) -> None:
    cases = _forged(prefix)
    before = await vendor_signed.refusals()
    answers = []
    for case, target, body, headers, _ in cases:
        response = await vendor_signed.send(post(target, body, headers))
        answers.append((case, response.status, response.json()["message"]))

    assert answers == [(case, 401, message) for case, _, _, _, message in cases]
    assert await vendor_signed.produced(prefix) == []
    counted = await vendor_signed.refusals()
    assert {reason: counted[reason] - before.get(reason, 0) for reason in counted} == {
        "vendor_bad_signature": 6,
        "vendor_unknown_key": 1,
        "vendor_malformed": 1,
        "vendor_missing": 1,
        "vendor_ambiguous": 1,
    }


@pytest.fixture(scope="module")
def token_and_vendor(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    yield from bridge_for(
        kafka_bootstrap,
        tmp_path_factory,
        "token-and-vendor",
        auth_tokens=TOKEN,
        vendor_signature="required",
        vendor_keys="AKIDfirst:first-secret-key-0123",
        public_url=PUBLIC_URL + "/",
    )


async def test_with_tokens_and_the_vendor_signature_both_must_pass(
    token_and_vendor: Guarded, prefix: str
) -> None:
    answers = []
    for n, (token, signed) in enumerate(
        [(TOKEN, True), (WRONG, True), (TOKEN, False), (None, True)]
    ):
        body = body_for(f"{prefix}-{n}")
        path = ROUTE if token is None else f"{ROUTE}/{token}"
        headers = (
            [("Authorization", vendor_header("AKIDfirst", PUBLIC_URL + path, body))]
            if signed
            else []
        )
        response = await token_and_vendor.send(post(path, body, headers))
        answers.append((response.status, response.json()["message"]))

    assert answers == [
        (200, "success"),
        (401, "Invalid callback credentials"),
        (401, "Missing vendor signature"),
        (401, "Missing callback credentials"),
    ]
    assert await token_and_vendor.produced(prefix) == [f"{prefix}-0"]


# -- requests built to confuse -----------------------------------------------------


@pytest.fixture(scope="module")
def plain(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    yield from bridge_for(kafka_bootstrap, tmp_path_factory, "plain", auth_tokens=TOKEN)


INVALID = b"Invalid HTTP request received."


def hostile_cases(prefix: str) -> list[tuple[str, bytes, int]]:
    """(case, raw request, status). Only the cases answered 200 may produce, one video each."""

    def body(n: int) -> bytes:
        return body_for(f"{prefix}-{n}")

    good = f"{ROUTE}/{TOKEN}"
    head = f"POST {good} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n".encode()
    return [
        (
            "Content-Length with Transfer-Encoding",
            head
            + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body(0))
            + rawhttp.chunked(body(0)),
            400,
        ),
        (
            "two different Content-Lengths",
            head + b"Content-Length: %d\r\nContent-Length: 2\r\n\r\n" % len(body(1)) + body(1),
            400,
        ),
        (
            "obsolete line folding",
            head + b"X-Note: a\r\n folded\r\nContent-Length: %d\r\n\r\n" % len(body(2)) + body(2),
            400,
        ),
        ("absolute-form target, wrong token", post(f"http://other{ROUTE}/{WRONG}", body(3)), 401),
        ("absolute-form target, token", post(f"http://other{good}", body(4)), 200),
        ("double slash", post(f"/{good}", body(5)), 401),
        ("dot segment", post(f"/callbacks/./video-upload/{TOKEN}", body(6)), 401),
        ("dot-dot to metrics", post(f"{ROUTE}/../metrics", body(7)), 401),
        (
            "dot-dot to metrics with a token",
            post(f"{ROUTE}/../metrics?token={TOKEN}", body(8)),
            404,
        ),
        (
            "token percent-encoded",
            post(ROUTE + "/" + "".join(f"%{b:02X}" for b in TOKEN.encode()), body(9)),
            200,
        ),
        ("token upper-cased", post(f"{ROUTE}/{TOKEN.upper()}", body(10)), 401),
        (
            "an encoded slash, decoded like the whole path",
            post(f"{ROUTE}%2F{TOKEN}", body(11)),
            200,
        ),
        ("path and query tokens disagree", post(f"{good}?token={WRONG}", body(12)), 401),
        ("query and path tokens disagree", post(f"{ROUTE}/{WRONG}?token={TOKEN}", body(13)), 401),
        (
            "HTTP/1.0 without Host, token",
            post(good, body(14), version="1.0").replace(b"Host: bridge\r\n", b""),
            200,
        ),
        (
            "HTTP/1.0 without Host, wrong token",
            post(f"{ROUTE}/{WRONG}", body(15), version="1.0").replace(b"Host: bridge\r\n", b""),
            401,
        ),
        ("NUL in the path", post(f"{ROUTE}/{TOKEN}\x00", body(16)), 400),
        ("control byte in the path", post(f"{ROUTE}/\x01{TOKEN}", body(17)), 400),
        ("NUL in a header", post(good, body(18), [("X-Note", "a\x00b")]), 400),
        ("control byte in a header", post(good, body(19), [("X-Note", "a\x01b")]), 400),
        (
            "control byte in the token header",
            post(ROUTE, body(20), [("X-Callback-Token", TOKEN + "\x7f")]),
            400,
        ),
        ("HEAD", rawhttp.request("HEAD", good, content_type=None), 405),
        ("OPTIONS", rawhttp.request("OPTIONS", good, content_type=None), 405),
        ("PUT", rawhttp.request("PUT", good, body(23)), 405),
        ("PUT without a token", rawhttp.request("PUT", ROUTE, body(24)), 401),
    ]


async def test_hostile_requests_get_their_status_and_only_authentic_ones_produce(
    plain: Guarded, prefix: str
) -> None:
    cases = hostile_cases(prefix)
    answers = []
    for case, raw, _ in cases:
        response = await plain.send(raw)
        answers.append((case, raw, response.status))
        if response.status == 400:
            assert response.body == INVALID, case

    assert answers == cases
    admitted = [f"{prefix}-{n}" for n, (_, _, status) in enumerate(cases) if status == 200]
    assert await plain.produced(prefix) == admitted


async def pipelined(guarded: Guarded, *raws: bytes) -> list[int]:
    """Send every request at once on one connection, then read the answers in order."""
    host, port = rawhttp.address_of(guarded.bridge.url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"".join(raws))
        await writer.drain()
        async with asyncio.timeout(30):
            return [(await rawhttp.read_response(reader)).status for _ in raws]
    finally:
        writer.close()


async def test_pipelined_requests_are_each_judged_on_their_own(plain: Guarded, prefix: str) -> None:
    good = f"{ROUTE}/{TOKEN}"
    bad = f"{ROUTE}/{WRONG}"

    first_authentic = await pipelined(
        plain, post(good, body_for(f"{prefix}-0")), post(bad, body_for(f"{prefix}-1"))
    )
    first_forged = await pipelined(
        plain, post(bad, body_for(f"{prefix}-2")), post(good, body_for(f"{prefix}-3"))
    )

    assert (first_authentic, first_forged) == ([200, 401], [401, 200])
    assert await plain.produced(prefix) == [f"{prefix}-0", f"{prefix}-3"]


async def expecting_continue(
    guarded: Guarded, path: str, body: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection on which the headers alone were sent, asking to be told to go on."""
    head = post(path, b"", [("Expect", "100-continue")]).replace(
        b"Content-Length: 0", b"Content-Length: %d" % len(body)
    )
    reader, writer = await asyncio.open_connection(*rawhttp.address_of(guarded.bridge.url))
    writer.write(head)
    await writer.drain()
    return reader, writer


async def test_expect_continue_with_a_wrong_token_is_refused_before_the_body(
    plain: Guarded, prefix: str
) -> None:
    reader, writer = await expecting_continue(plain, f"{ROUTE}/{WRONG}", body_for(prefix))
    try:
        async with asyncio.timeout(30):
            response = await rawhttp.read_one(reader)  # the first answer, 1xx included
    finally:
        writer.close()

    assert (response.status, response.json()["message"]) == (401, "Invalid callback credentials")
    assert await plain.produced(prefix) == []


async def test_expect_continue_with_a_good_token_gets_continue_then_200(
    plain: Guarded, prefix: str
) -> None:
    body = body_for(prefix)
    reader, writer = await expecting_continue(plain, f"{ROUTE}/{TOKEN}", body)
    try:
        async with asyncio.timeout(30):
            interim = await reader.readuntil(b"\r\n\r\n")
            writer.write(body)
            await writer.drain()
            response = await rawhttp.read_response(reader)
    finally:
        writer.close()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert response.status == 200
    assert await plain.produced(prefix) == [prefix]


# -- gateway signatures ------------------------------------------------------------

HMAC_SECRET = "guards-hmac-secret-0123456789"


def gateway_signed(body: bytes, *, at: int | None = None, secret: str = HMAC_SECRET) -> Headers:
    timestamp = str(int(time.time()) if at is None else at)
    signature = openssl_gateway_signature(secret, timestamp.encode() + b"." + body)
    return [("X-Callback-Timestamp", timestamp), ("X-Callback-Signature", signature)]


@pytest.fixture(scope="module")
def hmac_signed(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    """Tokens and HMAC secrets: either credential admits, and each presented must be valid."""
    yield from bridge_for(
        kafka_bootstrap, tmp_path_factory, "hmac", auth_tokens=TOKEN, hmac_secrets=HMAC_SECRET
    )


async def test_gateway_signatures_are_checked_alone_and_next_to_a_token(
    hmac_signed: Guarded, prefix: str
) -> None:
    """Signed as each case says, when it runs: a slow run must not expire them."""
    cases: list[tuple[str, str, Callable[[bytes], Headers], int, str]] = [
        ("signed", ROUTE, gateway_signed, 200, "success"),
        ("a token and a good signature", f"{ROUTE}/{TOKEN}", gateway_signed, 200, "success"),
        (
            "signed with another secret",
            ROUTE,
            lambda body: gateway_signed(body, secret="another-secret-0123456789"),
            401,
            "Invalid signature",
        ),
        (
            "a signature an hour old",
            ROUTE,
            lambda body: gateway_signed(body, at=int(time.time()) - 3600),
            401,
            "Signature timestamp outside the tolerance",
        ),
        (
            "a good token and another body's signature",
            f"{ROUTE}/{TOKEN}",
            lambda body: gateway_signed(b"another body"),
            401,
            "Invalid signature",
        ),
        ("neither", ROUTE, lambda body: [], 401, "Missing callback credentials"),
    ]
    answers = []
    for n, (case, target, sign, _, _) in enumerate(cases):
        body = body_for(f"{prefix}-{n}")
        response = await hmac_signed.send(post(target, body, sign(body)))
        answers.append((case, response.status, response.json()["message"]))

    assert answers == [(case, status, message) for case, _, _, status, message in cases]
    assert await hmac_signed.produced(prefix) == [f"{prefix}-0", f"{prefix}-1"]


# -- callbacks in flight -----------------------------------------------------------


@pytest.fixture(scope="module")
def one_at_a_time(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    yield from bridge_for(
        kafka_bootstrap,
        tmp_path_factory,
        "one-at-a-time",
        auth_tokens=TOKEN,
        max_requests_in_flight="1",
    )


async def test_a_callback_beyond_the_in_flight_limit_gets_503_and_writes_nothing(
    one_at_a_time: Guarded, prefix: str
) -> None:
    held_body, refused_body = body_for(f"{prefix}-held"), body_for(f"{prefix}-refused")
    host, port = rawhttp.address_of(one_at_a_time.bridge.url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        # Headers and half the body: the callback is admitted and waits for the rest.
        held = post(f"{ROUTE}/{TOKEN}", held_body)
        writer.write(held[: len(held) - len(held_body) // 2])
        await writer.drain()
        await until(lambda: one_at_a_time.bridge.metric("bridge_http_requests_in_flight") == 1)

        refused = await one_at_a_time.send(post(f"{ROUTE}/{TOKEN}", refused_body))

        writer.write(held[len(held) - len(held_body) // 2 :])
        await writer.drain()
        async with asyncio.timeout(30):
            answered = await rawhttp.read_response(reader)
    finally:
        writer.close()

    assert (refused.status, refused.headers["retry-after"], refused.json()) == (
        503,
        str(Settings().retry_after_seconds),  # the fixture leaves it at its default
        {"code": 503, "message": "More than 1 callbacks in flight; retry later"},
    )
    assert answered.status == 200
    assert await one_at_a_time.produced(prefix) == [f"{prefix}-held"]
