"""The bare ceiling, for the benchmark only: uvicorn and Starlette, and msgspec decoding the
envelope and each video's `videoId`. Nothing else: no auth, no limits, no access log, no
metrics, no records, no Kafka. What any Python bridge doing the job must at least spend.

    BRIDGE_HOST=127.0.0.1 BRIDGE_PORT=8081 python -m benchmarks.bare_server

It reads only `BRIDGE_HOST` and `BRIDGE_PORT`, and answers `POST /callbacks/video-upload`
(with or without a token after it, which it ignores) and `GET /readyz`. uvicorn runs
with what `uvicorn[standard]` brings (uvloop, httptools), as the bridge does.
"""

from __future__ import annotations

import os

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Video(msgspec.Struct):
    videoId: str


class Data(msgspec.Struct):
    videoListInfo: list[msgspec.Raw]


class Envelope(msgspec.Struct):
    data: Data


decode_envelope = msgspec.json.Decoder(Envelope).decode
decode_video = msgspec.json.Decoder(Video).decode
encode = msgspec.json.Encoder().encode


async def video_upload(request: Request) -> Response:
    try:
        envelope = decode_envelope(await request.body())
        ids = [decode_video(item).videoId for item in envelope.data.videoListInfo]
    except msgspec.DecodeError as error:  # ValidationError included
        return Response(encode({"code": 422, "message": str(error)}), 422)
    answer = {"code": 200, "message": "success", "accepted": len(ids)}
    return Response(encode(answer), media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b'{"code":200,"message":"ready"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/callbacks/video-upload", video_upload, methods=["POST"]),
        Route("/callbacks/video-upload/{token}", video_upload, methods=["POST"]),
        Route("/readyz", ready, methods=["GET"]),
    ]
)


def main() -> int:
    host = os.environ.get("BRIDGE_HOST", "127.0.0.1")
    port = int(os.environ.get("BRIDGE_PORT", "8080"))
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, server_header=False
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
