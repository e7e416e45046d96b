"""A stand-in for the platform's GetVideoList, written from its documentation.

It checks each request as the documentation says the platform does: the
scheme's headers, a timestamp within 5 minutes, and the signature recomputed
here (independently of `bridge.vod.signer`) from the canonical request. A wrong
one gets the vendor-style error envelope with HTTP 200, as the vendor answers.
It enforces a rate limit per access key, filters by the window (read in the
zone it is given) on each video's `uploadTime`, pages newest first, and serves
a synthetic catalogue whose items a test may change.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone, tzinfo
from urllib.parse import unquote, urlsplit

from tests.running import FakeHandler, HttpFake

PATH = "/vod/videoManage/getVideoList"
CHINA = timezone(timedelta(hours=8))
# Client settings for tests that are not about the rate limit: one call's share of the
# period is the first backoff, 300 s / 30000 = 10 ms.
FAST_API = {"vod_api_rate_limit": "30000", "vod_api_rate_share": "1"}
SCHEMES = {
    "ws3": ("WS3-HMAC-SHA256", "x-ws-accesskey", "x-ws-timestamp"),
    "cnc": ("CNC-HMAC-SHA256", "x-cnc-accesskey", "x-cnc-timestamp"),
}


def video(index: int, uploaded: int, updated: int | None = None) -> bytes:
    """A synthetic catalogue item, shaped like the vendor's example (numbers as strings)."""
    video_id = hashlib.md5(f"video-{index}".encode(), usedforsecurity=False).hexdigest().upper()
    item = {
        "videoId": video_id,
        "videoName": f"upload {index}",
        "createUser": "testUser",
        "videoState": "1",
        "transcodeState": "3",
        "videoSize": str(1000 + index),
        "videoDuration": "36",
        "uploadTime": str(uploaded),
        "updateTime": str(uploaded if updated is None else updated),
        "videoClassification": "null",
        "encrypt": 0,
    }
    return json.dumps(item, separators=(",", ":")).encode()


def video_id(item: bytes) -> str:
    found: str = json.loads(item)["videoId"]
    return found


class Catalogue:
    """Videos kept in upload-time order, so a window is two bisections."""

    def __init__(self, items: list[bytes]) -> None:
        self._lock = threading.Lock()
        pairs = sorted((int(json.loads(item)["uploadTime"]), item) for item in items)
        self._times = [when for when, _ in pairs]
        self._items = [item for _, item in pairs]
        self._where = {video_id(item): n for n, item in enumerate(self._items)}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[bytes]:
        return list(self._items)

    def update(self, key: str, **fields: str) -> bytes:
        """Change some fields of one video, as an edit in the console would."""
        with self._lock:
            n = self._where[key]
            item = json.loads(self._items[n])
            item.update(fields)
            self._items[n] = json.dumps(item, separators=(",", ":")).encode()
            return self._items[n]

    def window(self, start: int, end: int) -> list[bytes]:
        """Videos uploaded in [start, end], newest first."""
        with self._lock:
            low = bisect.bisect_left(self._times, start)
            high = bisect.bisect_right(self._times, end)
            return self._items[low:high][::-1]


class FakeVideoApi(HttpFake):
    def __init__(
        self,
        catalogue: Catalogue,
        *,
        access_key: str,
        secret_key: str,
        scheme: str = "ws3",
        zone: tzinfo = CHINA,
        calls_per_period: int = 1_000_000,
        period_seconds: float = 300.0,
    ) -> None:
        self.catalogue = catalogue
        self.keys = {access_key: secret_key}
        self.scheme = scheme
        self.zone = zone
        self.calls_per_period = calls_per_period
        self.period_seconds = period_seconds
        self.lock = threading.Lock()
        self.calls: collections.deque[float] = collections.deque()
        self.answers: collections.Counter[int | str] = collections.Counter()  # by body code
        self.throttle_next = 0  # answer this many calls with the rate-limit code
        self.fail_with: tuple[int | str, str] | None = None  # a vendor error for every call
        self.pages_served = 0
        super().__init__(self._handler())
        self.url = self.base_url

    def client_settings(self) -> dict[str, str]:
        """The settings that point the bridge's video API client here: the URL, the key
        this fake accepts and the scheme it checks."""
        [(access_key, secret_key)] = self.keys.items()
        return {
            "vod_api_url": self.url,
            "vod_access_key": access_key,
            "vod_secret_key": secret_key,
            "vod_auth_scheme": self.scheme,
        }

    def throttle(self, calls: int) -> None:
        with self.lock:
            self.throttle_next = calls

    def _handler(self) -> type[FakeHandler]:
        api = self

        class Handler(FakeHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                answer = api.answer("POST", self.path, dict(self.headers), self.body())
                self.reply(200, answer, "application/json")  # the vendor reports errors in the body

        return Handler

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
        """The answer's body: the items spliced in as stored, so their bytes are exact."""
        code, message, page = self._answer(method, target, headers, body)
        with self.lock:
            self.answers[code] += 1
        head = json.dumps({"code": code, "message": message})[:-1].encode()
        if page is None:
            return head + b',"data":null}'
        items, total = page
        listed = b",".join(items)
        return head + b',"data":{"videoListInfo":[' + listed + b'],"videoTotal":%d}}' % total

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int | str, str, tuple[list[bytes], int] | None]:
        lowered = {name.lower(): value for name, value in headers.items()}
        refused = self._check_signature(method, target, lowered, body)
        if refused:
            return 401, refused, None
        if self.fail_with is not None:
            return *self.fail_with, None
        if not self._admit():
            return 429, "Request frequency exceeds the limit, please try again later", None
        if urlsplit(target).path != PATH:
            return 404, "API not found", None
        try:
            query = json.loads(body)
            start = self._seconds(query["startTime"])
            end = self._seconds(query["endTime"])
            index = int(query.get("pageIndex", 1))
            size = int(query.get("pageSize", 10))
        except (ValueError, KeyError, TypeError):
            return 400, "Invalid parameter", None
        if not 1 <= size <= 50 or index < 1 or index * size >= 100_000:
            return 400, "Invalid parameter: pageIndex/pageSize", None
        matching = self.catalogue.window(start, end)
        page = matching[(index - 1) * size : index * size]
        with self.lock:
            self.pages_served += 1
        return 200, "success", (page, len(matching))

    def _seconds(self, text: str) -> int:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=self.zone)
        return int(moment.timestamp())

    def _admit(self) -> bool:
        with self.lock:
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return False
            now = time.monotonic()
            while self.calls and self.calls[0] <= now - self.period_seconds:
                self.calls.popleft()
            if len(self.calls) >= self.calls_per_period:
                return False
            self.calls.append(now)
            return True

    def _check_signature(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> str | None:
        """None when the request is signed as documented, else the vendor-style reason."""
        algorithm, key_header, time_header = SCHEMES[self.scheme]
        access_key = headers.get(key_header)
        stamp = headers.get(time_header)
        if access_key is None or stamp is None:
            return f"Missing {key_header} or {time_header}"
        if self.scheme == "cnc" and headers.get("x-cnc-auth-method") != "AKSK":
            return "Missing x-cnc-auth-method"
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return "Request timestamp expired"
        secret = self.keys.get(access_key)
        if secret is None:
            return "Invalid AccessKey"
        authorization = headers.get("authorization", "")
        prefix = f"{algorithm} "
        if not authorization.startswith(prefix):
            return "Invalid Authorization"
        fields = dict(
            part.strip().split("=", 1) for part in authorization[len(prefix) :].split(",")
        )
        if fields.get("Credential") != access_key:
            return "Invalid Authorization: Credential"
        signed = fields.get("SignedHeaders", "").split(";")
        if any(name not in headers for name in signed):
            return "Invalid Authorization: SignedHeaders"
        parts = urlsplit(target)
        canonical = "\n".join(
            [
                method,
                parts.path,
                unquote(parts.query) if method == "GET" else "",
                "".join(f"{name}:{headers[name].lower()}\n" for name in signed),
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(
            secret.encode(), f"{algorithm}\n{stamp}\n{digest}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return "Signature does not match"
        return None
