"""The `bridge` command: `serve`, and tools to send, read and describe callbacks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.config import Settings, SettingsError, load_settings, unknown_variables

log = logging.getLogger("bridge")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"bridge: {error}", file=sys.stderr)
        return 2
    command: int = args.run(args, settings)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser("serve", help="run the HTTP server (settings: BRIDGE_*)")
    serve_cmd.set_defaults(run=serve)

    send_cmd = commands.add_parser("send", help="POST a callback body as the platform would")
    send_cmd.add_argument("file", type=Path, help="a JSON file with the callback body")
    send_cmd.add_argument(
        "--url",
        default=None,
        help="where to post (default: the video upload route on BRIDGE_HOST:BRIDGE_PORT)",
    )
    send_cmd.add_argument("--content-type", default="application/json")
    send_cmd.set_defaults(run=send)

    consume_cmd = commands.add_parser("consume", help="print records of a topic")
    consume_cmd.add_argument("--topic", default=None, help="default: BRIDGE_TOPIC_VIDEO_UPLOAD")
    consume_cmd.add_argument("--from-beginning", action="store_true")
    consume_cmd.add_argument("--max-records", type=int, default=None, metavar="N")
    consume_cmd.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop when no record arrives for this long",
    )
    consume_cmd.set_defaults(run=consume)
    return parser


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.auth import UNAUTHENTICATED_REFUSAL
    from bridge.logs import configure_logging
    from bridge.server import serve as run_server

    configure_logging(settings.log_level)
    for line in unknown_variables():
        log.warning(line)
    if not settings.auth_tokens and not settings.hmac_secrets:
        if not settings.allow_unauthenticated:
            print(f"bridge: {UNAUTHENTICATED_REFUSAL}", file=sys.stderr)
            return 2
        log.warning("BRIDGE_ALLOW_UNAUTHENTICATED=true: anyone who can reach the port may post")
    return run_server(settings)


def send(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or f"http://{settings.host}:{settings.port}/callbacks/video-upload"
    body = args.file.read_bytes()
    request = urllib.request.Request(  # noqa: S310 - the URL is the user's own
        url, data=body, method="POST", headers={"Content-Type": args.content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except urllib.error.URLError as error:
        print(f"bridge: cannot reach {url}: {error.reason}", file=sys.stderr)
        return 1
    print(f"{status} {text}")
    return 0 if 200 <= status < 300 else 1


def consume(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.consumer import print_records

    topic = args.topic or settings.topic_video_upload
    return asyncio.run(
        print_records(
            settings,
            topic,
            from_beginning=args.from_beginning,
            max_records=args.max_records,
            idle_timeout=args.timeout,
        )
    )
