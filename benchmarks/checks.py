"""The topic against the answers: every acknowledged video stored, and nothing unexplained."""

from __future__ import annotations

from benchmarks.loadgen import Answers
from benchmarks.results import TopicCheck

_MISSING = "{records} records < {acked} acknowledged videos: acknowledged records are missing"


def closed_loop(topic: str, records: int, answers: Answers, per_callback: int) -> TopicCheck:
    """After wrk: the callbacks in flight when it stopped may be stored, their 200 unread.

    wrk closes its connections at the deadline with up to one callback on each;
    the bridge still stores those (a sender cannot take back what it sent), so
    the topic may hold up to `connections` callbacks more than wrk counted, plus
    those answered other than 200 after their records were stored (a produce
    timeout).
    """
    acked = answers.acknowledged * per_callback
    not_acked = answers.answered - answers.acknowledged + sum(answers.errors.values())
    allowed = (answers.outstanding + not_acked) * per_callback
    excess = records - acked
    if excess < 0:
        note = _MISSING.format(records=records, acked=acked)
    elif excess == 0:
        note = f"{records} records = {answers.acknowledged} callbacks x {per_callback} acknowledged"
    else:
        note = (
            f"{records} records = {acked} acknowledged videos + {excess} "
            f"({excess / per_callback:g} callbacks whose answer wrk did not read: at most "
            f"{answers.outstanding} open connections + {not_acked} not answered 200)"
        )
    return TopicCheck(
        topic=topic,
        records=records,
        acknowledged_videos=acked,
        excess=excess,
        excess_allowed=allowed,
        exact=False,
        ok=0 <= excess <= allowed,
        note=note,
    )


def open_loop(topic: str, records: int, answers: Answers, per_callback: int) -> TopicCheck:
    """After vegeta, which waits for every answer: the topic holds exactly what was acknowledged.

    The one allowed excess is a callback answered 503 after its records were
    stored (Kafka acknowledged them after the produce timeout).
    """
    acked_callbacks = answers.every.get("200", 0)
    acked = acked_callbacks * per_callback
    others = sum(n for status, n in answers.every.items() if status != "200")
    allowed = others * per_callback
    excess = records - acked
    if excess < 0:
        note = _MISSING.format(records=records, acked=acked)
    elif excess:
        note = f"{records} records = {acked} acknowledged videos + {excess} of {others} not 200"
    else:
        note = (
            f"{records} records = {acked_callbacks} callbacks x {per_callback} acknowledged "
            "(exact: every callback sent was answered)"
        )
    return TopicCheck(
        topic=topic,
        records=records,
        acknowledged_videos=acked,
        excess=excess,
        excess_allowed=allowed,
        exact=True,
        ok=0 <= excess <= allowed,
        note=note,
    )


def produced(topic: str, records: int, acknowledged: int, failed: int) -> TopicCheck:
    """After the Kafka ceiling: one record per acknowledgement, and no failure."""
    return TopicCheck(
        topic=topic,
        records=records,
        acknowledged_videos=acknowledged,
        excess=records - acknowledged,
        excess_allowed=0,
        exact=True,
        ok=records == acknowledged and failed == 0,
        note=f"{records} records, {acknowledged} acknowledged to the producer, {failed} failed",
    )
