"""The vendor's sample body, an independent way to find each item's bytes in a body, and
the answer to a callback the bridge took."""

from __future__ import annotations

import json
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VIDEO_SAMPLE = (EXAMPLES / "video-upload-callback.json").read_bytes()
SAMPLE_VIDEO_IDS = ["9B0F7BA8BCB9D056D4C24ADDBF821D10", "E869FC95F3C7493ED56E8751C4AA7BEE"]
# The `ce_id` of each of the sample's videos: `b2sum -l 128` of its bytes as the body
# carries them (item_slices), computed apart from the bridge.
SAMPLE_CE_IDS = [b"ddef338b0dd52e84a9ee118fc4761198", b"b29ec65e5fc833a567fff0f6d1d10276"]


def item_slices(body: bytes, list_field: str) -> list[bytes]:
    """The exact bytes of each element of `data.<list_field>`, found with the stdlib parser.

    Uses `json.JSONDecoder.raw_decode`, not msgspec, so it checks the bridge
    rather than repeating it. Assumes ASCII bodies, as the samples are.
    """
    text = body.decode()
    decoder = json.JSONDecoder()
    position = text.index("[", text.index(f'"{list_field}"')) + 1
    slices: list[bytes] = []
    while True:
        while text[position] in " \t\r\n,":
            position += 1
        if text[position] == "]":
            return slices
        _, end = decoder.raw_decode(text, position)
        slices.append(body[position:end])
        position = end


def video_body(*videos: dict[str, object], total: object = None) -> bytes:
    """A video upload callback around the given items, compact JSON."""
    data = {"videoListInfo": list(videos), "videoTotal": len(videos) if total is None else total}
    return json.dumps({"code": 200, "data": data, "message": "success"}).encode()


def sample_video(**changes: object) -> dict[str, object]:
    """The first video of the vendor's sample, with some fields changed or removed (None)."""
    video: dict[str, object] = json.loads(VIDEO_SAMPLE)["data"]["videoListInfo"][0]
    for name, value in changes.items():
        if value is None:
            video.pop(name, None)
        else:
            video[name] = value
    return video


def success_answer(accepted: int, dead_lettered: int = 0) -> dict[str, object]:
    """The bridge's 200 answer: `accepted` records stored, `dead_lettered` items kept aside."""
    return {"code": 200, "message": "success", "accepted": accepted, "deadLettered": dead_lettered}
