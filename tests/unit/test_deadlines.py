import asyncio

from bridge.deadlines import Deadlines


async def test_an_armed_watch_fires_after_its_time_and_a_disarmed_one_never() -> None:
    deadlines = Deadlines(0.2, tick=0.02)
    fired: list[str] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    deadlines.arm(lambda: fired.append("kept"))
    disarmed = deadlines.arm(lambda: fired.append("disarmed"))
    disarmed.armed = False
    done = asyncio.Event()
    deadlines.arm(done.set)
    await done.wait()

    assert fired == ["kept"]
    assert 0.2 <= loop.time() - started < 0.2 + 0.1
    assert not disarmed.fired


async def test_the_ticker_stops_when_nothing_waits_and_starts_again() -> None:
    deadlines = Deadlines(0.05, tick=0.01)
    first = asyncio.Event()
    deadlines.arm(first.set)
    await first.wait()

    assert deadlines.ticker is None
    assert not deadlines.queue

    second = asyncio.Event()
    deadlines.arm(second.set)
    await second.wait()
