"""The harness's own arithmetic: topic checks, percentiles, memory slope, profile tallies."""

from __future__ import annotations

from benchmarks import checks, procs, profile
from benchmarks.loadgen import Answers, percentiles


def wrk_answers(acknowledged: int, **statuses: int) -> Answers:
    return Answers(
        seconds=1.0,
        answered=acknowledged + sum(statuses.values()),
        statuses={"200": acknowledged, **statuses},
        errors={},
        latency_ms={},
        outstanding=4,
    )


def vegeta_answers(every: dict[str, int]) -> Answers:
    return Answers(
        seconds=1.0,
        answered=sum(every.values()),
        statuses=every,
        errors={},
        latency_ms={},
        every=every,
    )


def test_closed_loop_allows_the_callbacks_wrk_left_unread() -> None:
    exact = checks.closed_loop("t", 200, wrk_answers(100), per_callback=2)
    assert exact.ok and exact.excess == 0 and not exact.exact

    unread = checks.closed_loop("t", 208, wrk_answers(100), per_callback=2)
    assert unread.ok and unread.excess == 8 and unread.excess_allowed == 8
    assert "4 callbacks whose answer wrk did not read" in unread.note

    too_many = checks.closed_loop("t", 210, wrk_answers(100), per_callback=2)
    assert not too_many.ok


def test_closed_loop_fails_when_acknowledged_records_are_missing() -> None:
    missing = checks.closed_loop("t", 199, wrk_answers(100), per_callback=2)
    assert not missing.ok
    assert "acknowledged records are missing" in missing.note


def test_open_loop_is_exact() -> None:
    exact = checks.open_loop("t", 200, vegeta_answers({"200": 100}), per_callback=2)
    assert exact.ok and exact.exact and exact.excess_allowed == 0
    assert not checks.open_loop("t", 202, vegeta_answers({"200": 100}), per_callback=2).ok
    assert not checks.open_loop("t", 198, vegeta_answers({"200": 100}), per_callback=2).ok


def test_open_loop_allows_records_of_a_callback_answered_503() -> None:
    late = checks.open_loop("t", 202, vegeta_answers({"200": 100, "503": 1}), per_callback=2)
    assert late.ok and late.excess == 2


def test_produced_counts_one_record_per_acknowledgement() -> None:
    assert checks.produced("t", 10, 10, 0).ok
    assert not checks.produced("t", 10, 10, 1).ok
    assert not checks.produced("t", 9, 10, 0).ok


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    figures = percentiles([n * 1_000_000 for n in range(1, 101)])
    assert figures == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0, "mean": 50.5}
    assert percentiles([])["p99"] == 0.0


def test_rss_slope_is_in_mb_per_minute_after_the_settling_time() -> None:
    sampler = procs.Sampler(pid=0)
    # 100 MB at start-up, then 1 MB more every minute.
    sampler.samples = [(0.0, 50 * procs.MB)] + [
        (float(t), int((100 + t / 60) * procs.MB)) for t in range(10, 600, 10)
    ]
    assert round(sampler.slope_mb_per_min(after=10), 3) == 1.0
    assert sampler.peak == int((100 + 590 / 60) * procs.MB)


def test_the_profile_tallies_own_and_total_time() -> None:
    folded = "\n".join(
        [
            "main (a.py:1);handle (b.py:2);decode (c.py:3) 6",
            "main (a.py:1);handle (b.py:2) 3",
            "main (a.py:1) 1",
        ]
    )
    lines = profile.top(folded)
    assert lines[0] == "10 samples of the running (not idle) threads"
    assert lines[3].split() == ["60.0", "60.0", "decode", "(c.py:3)"]
    assert lines[4].split() == ["30.0", "90.0", "handle", "(b.py:2)"]
