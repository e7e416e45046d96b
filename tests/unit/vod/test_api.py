"""The video API client against the fake API: paging, errors, retries, rate and time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge.settings import Settings, SettingsError
from bridge.vod import api as vod
from bridge.vod.api import ApiUnavailable, CallWindow, VendorError, VideoApi, api_time, api_zone
from tests.fake_vod_api import Catalogue, FakeVideoApi, video, video_id
from tests.ports import free_port

ACCESS_KEY = "ak-unit"
SECRET_KEY = "sk-unit-0123456789"
START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


def catalogue_of(count: int) -> Catalogue:
    first = int(START.timestamp())
    return Catalogue([video(n, first + 10 * n) for n in range(count)])


def settings_for(url: str, **changes: object) -> Settings:
    fields: dict[str, object] = {
        "vod_api_url": url,
        "vod_access_key": ACCESS_KEY,
        "vod_secret_key": SECRET_KEY,
        "vod_api_rate_limit": 300_000,
        "vod_api_rate_share": 1.0,
        **changes,
    }
    return Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeVideoApi]:
    with FakeVideoApi(catalogue_of(120), access_key=ACCESS_KEY, secret_key=SECRET_KEY) as api:
        yield api


async def listed(client: VideoApi, start: datetime = START, end: datetime = END) -> list[bytes]:
    return [item async for page in client.pages(start, end) for item in page]


async def test_pages_of_fifty_until_a_short_one(fake: FakeVideoApi) -> None:
    client = VideoApi(settings_for(fake.url))
    sizes = [len(page) async for page in client.pages(START, END)]

    assert sizes == [50, 50, 20]
    assert (client.counts.calls, client.counts.pages, client.counts.errors) == (3, 3, 0)


async def test_only_the_window_is_listed(fake: FakeVideoApi) -> None:
    # Videos 0..119 were uploaded 10 s apart from START: [START+100 s, START+199 s] holds 10..19.
    items = await listed(
        VideoApi(settings_for(fake.url)),
        START + timedelta(seconds=100),
        START + timedelta(seconds=199),
    )

    assert sorted(items) == sorted(fake.catalogue.items()[10:20])


async def test_a_window_beyond_the_apis_paging_is_listed_in_halves(
    fake: FakeVideoApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vod, "LAST_PAGE", 1)  # at most 50 per listing, as 99,950 is really
    items = await listed(VideoApi(settings_for(fake.url)))

    assert {video_id(item) for item in items} == {video_id(i) for i in fake.catalogue.items()}


async def test_the_api_window_is_written_in_the_apis_zone() -> None:
    moment = datetime(2026, 12, 1, 2, 30, 5, tzinfo=UTC)

    assert api_time(moment, api_zone("+08:00")) == "2026-12-01 10:30:05"
    assert api_time(moment, api_zone("-03:30")) == "2026-11-30 23:00:05"
    assert api_zone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    assert api_zone("+08:00") == timezone(timedelta(hours=8))


@pytest.mark.parametrize("text", ["Mars/Olympus", "+8", "+25:00", "UTC+8"])
def test_a_bad_zone_is_one_line(text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        api_zone(text)

    assert str(caught.value) == (
        f"BRIDGE_VOD_API_TIMEZONE={text!r} is invalid: expected an IANA zone name or +HH:MM"
    )


async def test_a_vendor_error_ends_the_run_with_its_code_and_message(fake: FakeVideoApi) -> None:
    fake.fail_with = ("InvalidParameter.StartTime", "startTime is invalid")

    with pytest.raises(VendorError) as caught:
        await listed(VideoApi(settings_for(fake.url)))

    assert str(caught.value) == (
        "the video API refused the call: code InvalidParameter.StartTime: startTime is invalid"
    )


async def test_the_fake_enforces_its_rate_limit(fake: FakeVideoApi) -> None:
    fake.calls_per_period = 2
    client = VideoApi(settings_for(fake.url, vod_api_retries=0))

    with pytest.raises(ApiUnavailable) as caught:
        await listed(client)

    assert str(caught.value) == (
        "the video API gave no answer after 1 tries: rate limited: code 429: "
        "Request frequency exceeds the limit, please try again later"
    )
    assert (client.counts.calls, client.counts.rate_limited) == (3, 1)


async def test_network_errors_are_retried_then_reported() -> None:
    client = VideoApi(settings_for(f"http://127.0.0.1:{free_port()}", vod_api_retries=2))

    with pytest.raises(ApiUnavailable) as caught:
        await listed(client)

    assert str(caught.value) == (
        "the video API gave no answer after 3 tries: network error: [Errno 111] Connection refused"
    )
    assert (client.counts.calls, client.counts.errors) == (3, 3)


def test_credentials_are_required() -> None:
    with pytest.raises(SettingsError) as caught:
        VideoApi(Settings(vod_access_key=ACCESS_KEY))

    assert str(caught.value) == (
        "BRIDGE_VOD_ACCESS_KEY and BRIDGE_VOD_SECRET_KEY must be set to call the video API"
    )


async def test_call_window_allows_calls_per_period_and_no_more() -> None:
    clock = [1000.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        clock[0] += seconds

    window = CallWindow(3, 300.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        await window.acquire()
        clock[0] += 1.0
    await window.acquire()  # the 4th waits until the 1st is 300 s old
    await window.acquire()

    assert waits == [297.0, 1.0]
    assert window.spacing == 100.0
