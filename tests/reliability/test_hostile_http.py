"""Hostile input through the real server: `bridge serve` as a process, bytes on a socket.

Every case gets a 4xx with a clear message (or, for a client that never
finishes its headers, a 408 and a closed connection), never a 5xx, and the
bridge keeps serving: after each test a valid callback still gets 200.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import NotJson, WrongShape
from bridge.http.server import MAX_HEADER_BYTES
from bridge.kinds import VIDEO_UPLOAD
from bridge.records import decode_callback
from tests.kafka_tools import read_all, unique_topic
from tests.reliability import rawhttp
from tests.reliability.hostile import INVALID_UTF8, Piece, bad_items, body_of, good_items, nested
from tests.reliability.report import count_case
from tests.running import rss_mib, until
from tests.samples import VIDEO_SAMPLE, sample_video, success_answer, video_body
from tests.servers import BridgeProcess

pytestmark = pytest.mark.kafka

TOKEN = "hostile-input-token-0123456789"
ROUTE = f"/callbacks/video-upload/{TOKEN}"
TIMEOUT = 2  # BRIDGE_BODY_TIMEOUT_SECONDS: for the body, and for the headers
LIMIT = 1_048_576  # BRIDGE_MAX_BODY_BYTES, the default
JSON = {"content-type": "application/json"}

HTTP = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Target:
    bridge: BridgeProcess
    http: httpx.Client
    bootstrap: str
    video: str
    dlq: str

    @property
    def pid(self) -> int:
        assert self.bridge.process is not None
        return self.bridge.process.pid

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(ROUTE, content=body, headers=JSON if headers is None else headers)

    async def records(self, topic: str) -> list[Any]:
        return await read_all(self.bootstrap, topic)


@pytest.fixture(scope="module")
async def target(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    video, dlq = unique_topic("video"), unique_topic("dlq")
    settings = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "topic_video_upload": video,
        "topic_material_upload": unique_topic("material"),
        "topic_dlq": dlq,
        "create_topics": "true",
        "topic_partitions": "3",
        "auth_tokens": TOKEN,
        "body_timeout_seconds": str(TIMEOUT),
    }
    log = tmp_path_factory.mktemp("hostile") / "bridge.log"
    with BridgeProcess(log, **settings) as bridge, httpx.Client(base_url=bridge.url) as http:
        http.timeout = httpx.Timeout(30)
        yield Target(bridge, http, kafka_bootstrap, video, dlq)
        answered = answers_by_status((await asyncio.to_thread(http.get, "/metrics")).text)
    # Whatever came in, no answer was a 5xx, and nothing failed inside the bridge.
    assert [status for status in answered if status >= 500] == []
    assert "Traceback" not in bridge.log()
    # Every body refused as not JSON, of the wrong type or of the wrong shape is kept.
    letters = await read_all(kafka_bootstrap, dlq)
    kept = [letter for letter in letters if dict(letter.headers)["dlq_scope"] == b"body"]
    assert len(kept) == sum(answered.get(status, 0) for status in (400, 415, 422))


def answers_by_status(exposition: str) -> dict[int, int]:
    """`bridge_http_requests_total` of the video route, by status."""
    counts: dict[int, int] = {}
    prefix = 'bridge_http_requests_total{route="/callbacks/video-upload",status="'
    for line in exposition.splitlines():
        if line.startswith(prefix):
            status, _, value = line[len(prefix) :].partition('"} ')
            counts[int(status)] = int(float(value))
    return counts


@pytest.fixture(autouse=True)
def still_serving(target: Target) -> Iterator[None]:
    """After each test, the bridge is the same process and a valid callback gets 200."""
    yield
    assert target.bridge.exit_code() is None
    response = target.post(VIDEO_SAMPLE)
    assert response.status_code == 200, response.text


def expected_answer(body: bytes, content_type: str | None) -> tuple[int, dict[str, Any]]:
    """What the bridge must answer: the content type's verdict, then the decoder's."""
    if content_type is None or content_type.partition(";")[0].strip().lower() not in (
        "application/json",
        "text/plain",
    ):
        message = (
            f"Content-Type must be application/json or text/plain, got {content_type or 'none'}"
        )
        return 415, {"code": 415, "message": message}
    try:
        decoded = decode_callback(VIDEO_UPLOAD, body)
    except (NotJson, WrongShape) as error:
        refusal: dict[str, Any] = {"code": error.status, "message": error.message}
        if error.path is not None:
            refusal["path"] = error.path
        return error.status, refusal
    accepted: dict[str, Any] = success_answer(len(decoded.items), len(decoded.faults))
    if decoded.faults:
        accepted["errors"] = [{"path": f.path, "message": f.message} for f in decoded.faults]
    return 200, accepted


def check(target: Target, prop: str, body: bytes, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = target.post(body, headers)
    count_case("http", prop, response.status_code)
    assert (response.status_code, response.json()) == expected_answer(body, content_type)


# -- property-based, through HTTP -------------------------------------------------


@HTTP
@given(body=st.binary(max_size=2048))
def test_random_bytes_get_the_decoders_4xx(target: Target, body: bytes) -> None:
    check(target, "random bytes", body, "application/json")


@HTTP
@given(
    position=st.integers(0, len(VIDEO_SAMPLE)),
    junk=st.binary(min_size=1, max_size=64) | st.sampled_from(INVALID_UTF8),
    cut=st.booleans(),
)
def test_mangled_samples_get_the_decoders_answer(
    target: Target, position: int, junk: bytes, cut: bool
) -> None:
    body = VIDEO_SAMPLE[:position] + junk + (b"" if cut else VIDEO_SAMPLE[position:])
    check(target, "mangled sample (truncated, junk, bad UTF-8)", body, "application/json")


@HTTP
@given(pieces=st.lists(good_items() | bad_items(), max_size=6))
def test_generated_callbacks_get_exact_counts_and_faults(
    target: Target, pieces: list[Piece]
) -> None:
    check(target, "generated callbacks", body_of(pieces), "application/json")


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@HTTP
@given(
    content_type=st.none()
    | st.sampled_from(["application/json", "Application/JSON; charset=utf-8", "text/json"])
    | HEADER_TEXT.filter(lambda value: value == value.strip())
)
def test_any_content_type_but_json_is_415(target: Target, content_type: str | None) -> None:
    check(target, "content types", VIDEO_SAMPLE, content_type)


# -- bodies ------------------------------------------------------------------------


def answer_of(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"data":{"videoListInfo":[{"videoId":"deep","x":' + nested(100_000) + b"}]}}",
        b'{"data":{"videoListInfo":[]},"x":' + nested(100_000, b'{"a":') + b"}",
    ],
    ids=["in-an-item", "in-the-envelope"],
)
def test_regression_deep_nesting_is_400_not_500(target: Target, body: bytes) -> None:
    assert answer_of(target.post(body)) == (
        400,
        {
            "code": 400,
            "message": "Body is not valid JSON: nested too deeply; "
            "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character",
        },
    )


def test_empty_body_is_400(target: Target) -> None:
    assert answer_of(target.post(b"")) == (
        400,
        {
            "code": 400,
            "message": "Body is not valid JSON: Input data was truncated; "
            "nor URL-safe Base64: the body is empty",
        },
    )


async def test_huge_numbers_are_refused_where_typed_and_kept_where_not(target: Target) -> None:
    digits = b"9" * 5000
    typed = b'{"data":{"videoListInfo":[{"videoId":"n","encrypt":' + digits + b"}]}}"
    video_id = f"huge-number-{uuid.uuid4().hex}"
    item = b'{"videoId":"' + video_id.encode() + b'","vendorCounter":' + digits + b"}"

    refused = target.post(typed)
    kept = target.post(b'{"data":{"videoListInfo":[' + item + b"]}}")

    path = "$.data.videoListInfo[0].encrypt"
    message = f"Integer value out of range - at `{path}`"
    assert answer_of(refused) == (422, {"code": 422, "message": message, "path": path})
    assert kept.status_code == 200
    [record] = [r for r in await target.records(target.video) if r.key == video_id.encode()]
    assert record.value == item


async def test_duplicate_keys_are_forwarded_under_the_key_json_parsers_read(
    target: Target,
) -> None:
    first, last = f"dup-{uuid.uuid4().hex}", f"dup-{uuid.uuid4().hex}"
    item = f'{{"videoId":"{first}","videoName":"x","videoId":"{last}"}}'.encode()

    response = target.post(b'{"data":{"videoListInfo":[' + item + b"]}}")

    assert response.status_code == 200
    records = await target.records(target.video)
    assert [r.value for r in records if r.key == last.encode()] == [item]
    assert [r for r in records if r.key == first.encode()] == []


async def test_very_long_strings_are_forwarded_byte_for_byte(target: Target) -> None:
    video_id = f"long-{uuid.uuid4().hex}"
    item = b'{"videoId":"' + video_id.encode() + b'","videoName":"' + b"a" * 1_000_000 + b'"}'

    response = target.post(b'{"data":{"videoListInfo":[' + item + b"]}}")

    assert response.status_code == 200
    [record] = [r for r in await target.records(target.video) if r.key == video_id.encode()]
    assert record.value == item


TOO_LARGE_FOR_KAFKA = {
    "code": 413,
    "message": "A record of this callback is larger than Kafka accepts (MessageSizeTooLargeError)",
}


async def test_regression_a_video_id_too_long_for_a_kafka_record_is_413_not_503(
    target: Target,
) -> None:
    # The key travels twice (key and ce_subject): with the value, 1.2 MB that do not compress.
    video_id = base64.b64encode(os.urandom(300_000)).decode()
    replaced = recreations(target)

    response = target.post(video_body(sample_video(videoId=video_id)))

    assert answer_of(response) == (413, TOO_LARGE_FOR_KAFKA)
    # The producer whose batch was refused is replaced, which restarts its sequence numbers.
    await until(lambda: recreations(target) == replaced + 1)


def recreations(target: Target) -> float:
    for line in target.http.get("/metrics").text.splitlines():
        if line.startswith("bridge_producer_recreations_total "):
            return float(line.split()[1])
    raise AssertionError("no bridge_producer_recreations_total in /metrics")


def incompressible_video(video_id: str) -> bytes:
    """A valid callback just under the body limit whose record the broker refuses as too large.

    The producer lets it through (its request limit leaves room for headers);
    the broker's default `message.max.bytes` (1 MiB + 12) does not.
    """
    head = b'{"data":{"videoListInfo":[{"videoId":"' + video_id.encode() + b'","x":"'
    tail = b'"}]}}'
    room = LIMIT - len(head) - len(tail)
    text = base64.b64encode(os.urandom(room))[:room]
    return head + text + tail


async def test_regression_a_record_the_broker_refuses_is_413_and_its_partition_keeps_working(
    target: Target,
) -> None:
    """A refused batch left a gap in the idempotent producer's sequence numbers: every
    later record for that partition failed with OutOfOrderSequenceNumber, for good."""
    prefix = f"after-refusal-{uuid.uuid4().hex}"
    replaced = recreations(target)
    refused_video = target.post(incompressible_video(f"{prefix}-big"))
    await until(lambda: recreations(target) == replaced + 1)
    refused_letter = target.post(os.urandom(LIMIT - 200))  # not JSON: the whole body is kept
    await until(lambda: recreations(target) == replaced + 2)

    # With a new producer, every partition of both topics takes records again.
    videos = [target.post(video_body(sample_video(videoId=f"{prefix}-{n}"))) for n in range(60)]
    letters = [target.post(b"not json " + str(n).encode()) for n in range(60)]

    assert answer_of(refused_video) == (413, TOO_LARGE_FOR_KAFKA)
    assert answer_of(refused_letter) == (413, TOO_LARGE_FOR_KAFKA)
    assert [r.status_code for r in videos] == [200] * 60
    assert [r.status_code for r in letters] == [400] * 60
    stored = [r for r in await target.records(target.video) if r.key.startswith(prefix.encode())]
    assert {r.partition for r in stored} == {0, 1, 2}
    assert len(stored) == 60


async def test_ten_thousand_videos_in_one_callback(target: Target) -> None:
    prefix = f"tenk-{uuid.uuid4().hex}"
    items = [f'{{"videoId":"{prefix}-{n}","videoState":"1"}}'.encode() for n in range(10_000)]
    body = b'{"code":200,"data":{"videoListInfo":[' + b",".join(items) + b'],"videoTotal":10000}}'

    response = target.post(body)

    assert answer_of(response) == (
        200,
        success_answer(10_000),
    )
    stored = {
        r.key.decode(): r.value
        for r in await target.records(target.video)
        if r.key.startswith(prefix.encode())
    }
    assert stored == {f"{prefix}-{n}": item for n, item in enumerate(items)}


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json-patch+json",
        "application/json, text/plain",
    ],
)
def test_wrong_and_missing_content_types_are_415(target: Target, content_type: str | None) -> None:
    response = target.post(
        VIDEO_SAMPLE, {} if content_type is None else {"content-type": content_type}
    )

    message = f"Content-Type must be application/json or text/plain, got {content_type or 'none'}"
    assert answer_of(response) == (415, {"code": 415, "message": message})


def test_a_body_declared_over_the_limit_is_413(target: Target) -> None:
    response = target.post(b" " * (LIMIT + 1))

    message = f"Body of {LIMIT + 1} bytes exceeds the limit of {LIMIT} bytes"
    assert answer_of(response) == (413, {"code": 413, "message": message})


async def test_a_connection_answered_early_serves_the_next_callback_once_the_body_is_in(
    target: Target,
) -> None:
    """413 before the body is read; the client sends it all the same, then reuses the connection."""
    host, port = rawhttp.address_of(target.bridge.url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(rawhttp.request("POST", ROUTE, b" " * (LIMIT + 1)))
        refused = await rawhttp.read_response(reader)
        writer.write(rawhttp.request("POST", ROUTE, VIDEO_SAMPLE))
        accepted = await rawhttp.read_response(reader)
    finally:
        writer.close()

    assert refused.status == 413
    assert (accepted.status, accepted.json()["accepted"]) == (200, 2)


async def test_a_chunked_body_over_the_limit_is_413(target: Target) -> None:
    raw = rawhttp.request("POST", ROUTE, b" " * (LIMIT + 1), framing="chunked")

    response = await rawhttp.exchange(target.bridge.url, raw)

    message = f"Body exceeds the limit of {LIMIT} bytes"
    assert (response.status, response.json()) == (413, {"code": 413, "message": message})


async def test_a_chunked_body_within_the_limit_is_accepted(target: Target) -> None:
    raw = rawhttp.request("POST", ROUTE, VIDEO_SAMPLE, framing="chunked")

    response = await rawhttp.exchange(target.bridge.url, raw)

    assert response.status == 200


_BODY = b'{"data":{"videoListInfo":[{"videoId":"malformed"}]}}'
_HEAD = f"POST {ROUTE} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n".encode()


@pytest.mark.parametrize(
    "raw",
    [
        b"HELLO\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        _HEAD + b"Content-Length: abc\r\n\r\n" + _BODY,
        _HEAD + b"Content-Length: -1\r\n\r\n" + _BODY,
        _HEAD + b"Content-Length: 99999999999999999999999\r\n\r\n" + _BODY,
        _HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + rawhttp.chunked(_BODY),
        _HEAD + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(_BODY) + _BODY,
        _HEAD + b"Transfer-Encoding: gzip\r\n\r\n" + _BODY,
        _HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        _HEAD + b"X-Nul: a\x00b\r\nContent-Length: %d\r\n\r\n" % len(_BODY) + _BODY,
        _HEAD + b"No colon here\r\nContent-Length: %d\r\n\r\n" % len(_BODY) + _BODY,
        b"POST /callbacks/video-upload/\xff\xfe HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
        b"POST /callbacks/video-upload HTTP/1.1\nHost: b\nContent-Length: 0\n\n",
    ],
    ids=[
        "garbage",
        "http2-preface",
        "length-not-a-number",
        "length-negative",
        "length-overflow",
        "length-and-chunked",
        "two-lengths",
        "unknown-transfer-encoding",
        "bad-chunk-size",
        "nul-in-header",
        "header-without-colon",
        "non-ascii-path",
        "bare-newlines",
    ],
)
async def test_malformed_http_is_400(target: Target, raw: bytes) -> None:
    response = await rawhttp.exchange(target.bridge.url, raw)

    assert (response.status, response.body) == (400, b"Invalid HTTP request received.")


async def test_a_websocket_upgrade_is_refused(target: Target) -> None:
    raw = (
        f"GET {ROUTE} HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()

    response = await rawhttp.exchange(target.bridge.url, raw)

    assert response.status == 403


# -- slow and bloated clients ----------------------------------------------------------


@dataclass
class Slow:
    """A connection sending `head`, then one byte of `drip` at a time, until cut off."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    dripping: asyncio.Task[None]
    opened: float

    @classmethod
    async def open(cls, url: str, head: bytes, drip: bytes = b"") -> Slow:
        host, port = rawhttp.address_of(url)
        reader, writer = await asyncio.open_connection(host, port)
        opened = time.monotonic()
        writer.write(head)

        async def trickle() -> None:
            for byte in drip:
                await asyncio.sleep(0.5)  # the pace of a slow client, not a synchronisation
                writer.write(bytes([byte]))
                await writer.drain()

        return cls(reader, writer, asyncio.create_task(trickle()), opened)

    async def cut_off(self, within: float) -> tuple[bytes, float]:
        """What the server sent before closing, and when it closed, from the opening."""
        async with asyncio.timeout(within):
            received = await rawhttp.until_closed(self.reader)
        closed = time.monotonic() - self.opened
        self.dripping.cancel()
        await asyncio.gather(self.dripping, return_exceptions=True)
        self.writer.close()
        return received, closed


SLOW_HEADERS = f"POST {ROUTE} HTTP/1.1\r\nHost: b\r\n".encode()
SLOW_DRIP = b"X-Slow: " + b"s" * 100
# The head of a request and the first byte of its 100-byte body, and the next few to drip.
SLOW_BODY = rawhttp.request("POST", ROUTE, b"", [("Content-Length", "100")], framing="none") + b"{"
SLOW_BODY_DRIP = b'"data"'
HEADERS_TOO_LARGE = (
    b'{"code":431,"message":"Request headers larger than %d bytes"}' % MAX_HEADER_BYTES
)


def status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def received_until_cut_off(target: Target, head: bytes, drip: bytes = b"") -> bytes:
    """What a slow client gets before the bridge closes its connection, which it must do
    once the timeout has passed."""
    slow = await Slow.open(target.bridge.url, head, drip)
    received, closed = await slow.cut_off(within=TIMEOUT + 10)
    assert TIMEOUT - 0.5 < closed < TIMEOUT + 5
    return received


async def test_regression_headers_too_slow_get_408_and_the_connection_closed(
    target: Target,
) -> None:
    received = await received_until_cut_off(target, SLOW_HEADERS, SLOW_DRIP)

    assert status_and_body(received) == (
        408,
        b'{"code":408,"message":"Request headers not received within 2 s"}',
    )


async def test_regression_a_silent_connection_is_closed(target: Target) -> None:
    received = await received_until_cut_off(target, b"")

    assert received == b""


async def test_regression_endless_headers_get_431_and_cost_no_memory(target: Target) -> None:
    before = rss_mib(target.pid)
    host, port = rawhttp.address_of(target.bridge.url)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(SLOW_HEADERS + b"X-Endless: ")
    sent = 0
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(30):
            while sent < 256 * 1024 * 1024:  # a quarter GiB, if nothing stops it
                writer.write(b"e" * 65536)
                await writer.drain()
                sent += 65536
    received = await rawhttp.until_closed(reader)
    writer.close()

    assert sent < 8 * 1024 * 1024
    assert rss_mib(target.pid) - before < 16
    # The answer may be lost to the reset that cut the upload: the next test shows it
    # always comes when the client stops sending.
    if received:
        assert status_and_body(received) == (431, HEADERS_TOO_LARGE)


async def test_headers_just_over_the_limit_get_431(target: Target) -> None:
    """All of it sent before the bridge decides, so that it reads every byte and its
    close is a FIN, not a reset: the answer always arrives."""
    host, port = rawhttp.address_of(target.bridge.url)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(SLOW_HEADERS + b"X-Large: " + b"l" * MAX_HEADER_BYTES + b"\r\n")
        await writer.drain()
        async with asyncio.timeout(30):
            received = await rawhttp.until_closed(reader)
    finally:
        writer.close()

    assert status_and_body(received) == (431, HEADERS_TOO_LARGE)


async def test_a_body_too_slow_gets_408(target: Target) -> None:
    received = await received_until_cut_off(target, SLOW_BODY, SLOW_BODY_DRIP)

    assert status_and_body(received) == (
        408,
        b'{"code":408,"message":"Body not received within 2 s"}',
    )


async def test_slow_clients_do_not_block_others(target: Target) -> None:
    url = target.bridge.url
    fds_before = psutil.Process(target.pid).num_fds()
    slow = await asyncio.gather(
        *(Slow.open(url, b"") for _ in range(30)),
        *(Slow.open(url, SLOW_HEADERS, SLOW_DRIP) for _ in range(30)),
        *(Slow.open(url, SLOW_BODY, SLOW_BODY_DRIP) for _ in range(20)),
    )

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post(ROUTE, content=VIDEO_SAMPLE, headers=JSON) for _ in range(20))
        )
    answered = time.monotonic()
    cut_off = await asyncio.gather(
        *(connection.cut_off(within=TIMEOUT + 10) for connection in slow)
    )

    assert [answer.status_code for answer in answers] == [200] * 20
    # The valid callbacks were answered while every slow connection was still open.
    assert all(
        connection.opened + closed > answered
        for connection, (_, closed) in zip(slow, cut_off, strict=True)
    )
    assert max(closed for _, closed in cut_off) < TIMEOUT + 5
    async with asyncio.timeout(10):
        while psutil.Process(target.pid).num_fds() > fds_before + 2:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.1)


# -- authentication, with paths as sent ----------------------------------------------

MISSING = {"code": 401, "message": "Missing callback credentials"}
INVALID = {"code": 401, "message": "Invalid callback credentials"}
AMBIGUOUS = {"code": 401, "message": "More than one token parameter"}
WRONG = "wrong-token-0123456789"
R = "/callbacks/video-upload"

# (request target, extra headers, status, answer); None: not a JSON answer.
PATH_TRICKS: list[tuple[str, list[tuple[str, str]], int, dict[str, Any] | None]] = [
    (f"{R}/{TOKEN}", [], 200, None),
    (f"{R}?token={TOKEN}", [], 200, None),
    (f"http://bridge{R}/{TOKEN}", [], 200, None),
    # The authenticator and the router read the same decoded path: an encoded
    # slash is a slash to both, and the token in it is still checked.
    (f"{R}%2F{TOKEN}", [], 200, None),
    (f"{R}%2F{WRONG}", [], 401, INVALID),
    (R, [], 401, MISSING),
    (f"http://bridge{R}", [], 401, MISSING),
    (f"{R}/{TOKEN}/extra", [], 401, MISSING),
    (f"{R}/{TOKEN}/", [], 401, MISSING),
    (f"{R}/", [], 401, INVALID),
    (f"{R}/{TOKEN}%2Fx", [], 401, MISSING),
    (f"{R}/{TOKEN}%2fx", [], 401, MISSING),
    (f"{R}/x%2F{TOKEN}", [], 401, MISSING),
    (f"{R}/{TOKEN.upper()}", [], 401, INVALID),
    (f"{R}/{TOKEN[:-1]}", [], 401, INVALID),
    (f"{R}/{TOKEN}%00", [], 401, INVALID),
    (f"{R}/{TOKEN}%20", [], 401, INVALID),
    (f"/CALLBACKS/video-upload/{TOKEN}", [], 401, MISSING),
    (f"/callbacks/VIDEO-UPLOAD/{WRONG}", [], 401, INVALID),
    (f"/callbacks/../callbacks/video-upload/{TOKEN}", [], 401, MISSING),
    (f"/callbacks/./video-upload/{TOKEN}", [], 401, MISSING),
    (f"{R}/../video-upload/{TOKEN}", [], 401, MISSING),
    (f"{R}/%2e%2e/{TOKEN}", [], 401, MISSING),
    (f"//callbacks/video-upload/{TOKEN}", [], 401, MISSING),
    (f"/callbacks//video-upload/{TOKEN}", [], 401, MISSING),
    ("/healthz/../callbacks/video-upload", [], 401, MISSING),
    ("/healthz%2F..%2Fcallbacks%2Fvideo-upload", [], 401, MISSING),
    (f"{R};token={TOKEN}", [], 401, MISSING),
    (f"{R}#/{TOKEN}", [], 401, MISSING),
    (f"{R}?token={TOKEN}&token={TOKEN}", [], 401, AMBIGUOUS),
    (f"{R}?token={WRONG}&token={TOKEN}", [], 401, AMBIGUOUS),
    (f"{R}?token={TOKEN}&token=", [], 401, AMBIGUOUS),
    (f"{R}?token={TOKEN}&token", [], 401, AMBIGUOUS),
    (f"{R}?TOKEN={TOKEN}", [], 401, MISSING),
    (f"{R}?token%3D{TOKEN}", [], 401, MISSING),
    (f"{R}?token=", [], 401, INVALID),
    (f"{R}/{TOKEN}?token={WRONG}", [], 401, INVALID),
    (f"{R}/{TOKEN}", [("X-Callback-Token", WRONG)], 401, INVALID),
    (R, [("x-callback-token", TOKEN), ("X-Callback-Token", WRONG)], 401, INVALID),
]


async def test_path_tricks_do_not_get_past_authentication(target: Target) -> None:
    prefix = f"auth-{uuid.uuid4().hex}"
    answers = []
    for n, (path, headers, _, _) in enumerate(PATH_TRICKS):
        body = video_body(sample_video(videoId=f"{prefix}-{n}"))
        response = await rawhttp.exchange(
            target.bridge.url, rawhttp.request("POST", path, body, headers)
        )
        shown = response.json() if response.status != 200 else None
        answers.append((path, headers, response.status, shown))

    assert answers == PATH_TRICKS
    admitted = {f"{prefix}-{n}" for n, case in enumerate(PATH_TRICKS) if case[2] == 200}
    stored = {
        r.key.decode() for r in await target.records(target.video) if prefix.encode() in r.key
    }
    assert stored == admitted
    letters = [r.value for r in await target.records(target.dlq) if prefix.encode() in r.value]
    assert letters == []
