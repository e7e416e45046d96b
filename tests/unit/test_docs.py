"""The docs that list the routes and topics by hand list every kind's, and no other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridge.kinds import KINDS
from bridge.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "video-callback-bridge"
# Where operators and consumers read the routes and the topics of the kinds.
LISTINGS = [
    REPO / "README.md",
    REPO / "docs" / "consumers.md",
    CHART / "README.md",
    CHART / "templates" / "NOTES.txt",
]
ROUTE = re.compile(r"/callbacks/([a-z][a-z-]*[a-z])")


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_kinds_route_and_no_other(listing: Path) -> None:
    named = set(ROUTE.findall(listing.read_text()))

    assert named == {kind.route.removeprefix("/callbacks/") for kind in KINDS}


@pytest.mark.parametrize(
    "listing",
    [REPO / "README.md", REPO / "docs" / "consumers.md", CHART / "README.md"],
    ids=lambda path: str(path.relative_to(REPO)),
)
def test_every_kinds_default_topic(listing: Path) -> None:
    text = listing.read_text()
    defaults = Settings()
    topics = [getattr(defaults, kind.topic_setting) for kind in KINDS] + [defaults.topic_dlq]

    assert [topic for topic in topics if topic not in text] == []
