"""The `bridge` command: `serve`, and tools to send, read, describe and replay callbacks.

Every command reads the same `BRIDGE_*` settings as the server, so the tools
find the same Kafka cluster, topics and port.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.kinds import KINDS_BY_NAME, VIDEO_UPLOAD
from bridge.settings import SettingsError, load_settings
from bridge.tools.commands import (
    consume,
    dlq_list,
    dlq_replay,
    dlq_show,
    reconcile,
    schema,
    send,
    serve,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"bridge: {error}", file=sys.stderr)
        return 2
    try:
        code: int = args.run(args, settings)
    except (LookupError, ValueError, OSError) as error:  # the tools' one-line failures
        print(f"bridge: {error}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve_cmd = commands.add_parser("serve", help="run the HTTP server (settings: BRIDGE_*)")
    serve_cmd.set_defaults(run=serve)

    send_cmd = commands.add_parser("send", help="POST a callback body as the platform would")
    send_cmd.add_argument("file", type=Path, help="the callback body: JSON, or its Base64")
    send_cmd.add_argument(
        "--kind", choices=KINDS_BY_NAME, default=VIDEO_UPLOAD.name, help="the route to post to"
    )
    send_cmd.add_argument(
        "--url", help="where to post (default: the kind's route on BRIDGE_HOST:BRIDGE_PORT)"
    )
    send_cmd.add_argument(
        "--token",
        help="sent in the BRIDGE_AUTH_HEADER header, or in the path when that is empty "
        "(default: none)",
    )
    send_cmd.add_argument("--content-type", default="application/json")
    send_cmd.set_defaults(run=send)

    consume_cmd = commands.add_parser("consume", help="print the records of a topic")
    topic = consume_cmd.add_mutually_exclusive_group()
    topic.add_argument("--topic", help="default: the topic of --kind")
    topic.add_argument(
        "--kind",
        choices=KINDS_BY_NAME,
        default=VIDEO_UPLOAD.name,
        help="read this kind's topic (its BRIDGE_TOPIC_* setting)",
    )
    consume_cmd.add_argument(
        "--group", help="consumer group: resume where it left off, and commit what is printed"
    )
    start = consume_cmd.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    start.add_argument("--latest", action="store_true", help="only new records (the default)")
    consume_cmd.add_argument(
        "--key", action="append", default=[], metavar="KEY", help="only records with this key"
    )
    consume_cmd.add_argument("--format", choices=("jsonl", "pretty"), default="jsonl")
    consume_cmd.add_argument("--max-records", type=int, metavar="N", help="stop after N records")
    consume_cmd.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop after this long without a record"
    )
    consume_cmd.set_defaults(run=consume)

    schema_cmd = commands.add_parser(
        "schema", help="print the JSON Schema of record values; write or check the contract"
    )
    schema_cmd.add_argument("--kind", choices=KINDS_BY_NAME)
    action = schema_cmd.add_mutually_exclusive_group()
    action.add_argument(
        "--write", type=Path, metavar="DIR", help="write the AsyncAPI document and schemas"
    )
    action.add_argument(
        "--check", type=Path, metavar="DIR", help="exit 1 if DIR differs from what --write makes"
    )
    schema_cmd.set_defaults(run=schema)

    dlq_cmd = commands.add_parser("dlq", help="list and replay dead letters")
    dlq = dlq_cmd.add_subparsers(required=True, metavar="ACTION")
    list_cmd = dlq.add_parser("list", help="every dead letter, with its reason")
    list_cmd.add_argument("--format", choices=("jsonl", "pretty"), default="jsonl")
    list_cmd.set_defaults(run=dlq_list)
    show_cmd = dlq.add_parser("show", help="write a dead letter's raw bytes to stdout")
    show_cmd.add_argument("position", metavar="PARTITION:OFFSET")
    show_cmd.set_defaults(run=dlq_show)
    replay_cmd = dlq.add_parser("replay", help="send dead letters through the bridge again")
    replay_cmd.add_argument("positions", nargs="+", metavar="PARTITION:OFFSET")
    replay_cmd.add_argument(
        "--value",
        type=Path,
        metavar="FILE",
        help="send these corrected bytes instead of the kept ones (one position only)",
    )
    replay_cmd.add_argument("--url", help="the bridge (default: http://BRIDGE_HOST:BRIDGE_PORT)")
    replay_cmd.add_argument("--token", help="default: the first of BRIDGE_AUTH_TOKENS")
    replay_cmd.add_argument("--force", action="store_true", help="replay even if done before")
    replay_cmd.set_defaults(run=dlq_replay)

    reconcile_cmd = commands.add_parser(
        "reconcile", help="produce the videos the video API lists that the topic lacks"
    )
    span = reconcile_cmd.add_mutually_exclusive_group(required=True)
    span.add_argument("--since", metavar="RFC3339", help="window start, e.g. 2026-12-01T10:00:00Z")
    span.add_argument("--lookback", metavar="DURATION", help="the window ends now, e.g. 2h")
    reconcile_cmd.add_argument("--until", metavar="RFC3339", help="window end (default: now)")
    reconcile_cmd.add_argument(
        "--dry-run", action="store_true", help="print what would be produced; produce nothing"
    )
    reconcile_cmd.add_argument(
        "--every", metavar="DURATION", help="run forever, one --lookback window per period"
    )
    reconcile_cmd.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="with --every: serve /metrics here"
    )
    reconcile_cmd.set_defaults(run=reconcile)
    return parser
