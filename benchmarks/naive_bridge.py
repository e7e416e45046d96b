"""A bridge written the common way, for comparison only: FastAPI, pydantic models, and one
`await producer.send_and_wait(...)` per video.

It reads the same `BRIDGE_*` settings and builds its producer with the bridge's own
options (`acks=all`, idempotence, compression, linger, batch size), so that the
comparison is about the HTTP and publishing code, not the Kafka settings. It keeps
none of the bridge's guarantees beyond that (no dead letters, no limits, no auth):
every shortcut it takes makes it faster, never slower.

    BRIDGE_KAFKA_BOOTSTRAP_SERVERS=... BRIDGE_TOPIC_VIDEO_UPLOAD=... \
        uvicorn benchmarks.naive_bridge:app --port 8081
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# The bench extra (pip install -e '.[bench]') provides these; the ignores keep mypy quiet
# where only the dev extra is installed, and are unused where both are.
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI  # type: ignore[import-not-found, unused-ignore]
from pydantic import BaseModel, ConfigDict, Field  # type: ignore[import-not-found, unused-ignore]

from bridge.kafka.options import producer_options
from bridge.settings import load_settings

settings = load_settings()


class Resolution(BaseModel):  # type: ignore[misc, unused-ignore]
    """Field names are the vendor's own, as a quick model of the sample would have them."""

    model_config = ConfigDict(extra="allow")

    clarity: int | None = None
    fileSize: int | None = None
    height: int | None = None
    width: int | None = None
    serverType: int | None = None


class Video(BaseModel):  # type: ignore[misc, unused-ignore]
    model_config = ConfigDict(extra="allow")

    videoId: str = Field(min_length=1)
    videoName: str | None = None
    createUser: str | None = None
    imageUrl: str | None = None
    publishDomain: str | None = None
    transcodeState: int | str | None = None
    uploadTime: int | str | None = None
    updateTime: int | str | None = None
    videoDuration: int | str | None = None
    videoSize: int | str | None = None
    videoState: int | str | None = None
    videoResolutions: list[Resolution] = []


class Data(BaseModel):  # type: ignore[misc, unused-ignore]
    videoListInfo: list[Video]
    videoTotal: int | str | None = None


class VideoUploadCallback(BaseModel):  # type: ignore[misc, unused-ignore]
    code: int | str | None = None
    data: Data
    message: str | None = None


producer: AIOKafkaProducer | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global producer
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    try:
        yield
    finally:
        await producer.stop()


app = FastAPI(lifespan=lifespan)


@app.post("/callbacks/video-upload")  # type: ignore[untyped-decorator, unused-ignore]
async def video_upload(callback: VideoUploadCallback) -> dict[str, object]:
    assert producer is not None  # set by the lifespan
    for video in callback.data.videoListInfo:
        await producer.send_and_wait(
            settings.topic_video_upload,
            value=video.model_dump_json().encode(),
            key=video.videoId.encode(),
        )
    return {"code": 200, "message": "success", "accepted": len(callback.data.videoListInfo)}
