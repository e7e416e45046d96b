"""The `bridge` command: `serve`, and tools to send, read, describe and replay callbacks.

Every command reads the same `BRIDGE_*` settings as the server, so the tools
find the same Kafka cluster, topics and port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bridge import __version__
from bridge.kinds import KINDS_BY_NAME, VIDEO_UPLOAD
from bridge.settings import Settings, SettingsError, load_settings, unknown_variables

log = logging.getLogger("bridge")


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
    send_cmd.add_argument("--token", help="sent in X-Callback-Token (default: none)")
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


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.http.auth import authenticates, check_credentials
    from bridge.http.server import serve as run_server
    from bridge.logs import configure_logging
    from bridge.tracing import TracingError, requested

    configure_logging(settings.log_level)
    try:
        if requested():
            log.info("tracing on: spans are exported over OTLP/HTTP")
    except TracingError as error:
        print(f"bridge: {error}", file=sys.stderr)
        return 2
    for line in unknown_variables():
        log.warning(line)
    try:
        check_credentials(settings)
    except ValueError as error:
        print(f"bridge: {error}", file=sys.stderr)
        return 2
    if not authenticates(settings):
        log.warning("BRIDGE_ALLOW_UNAUTHENTICATED=true: anyone who can reach the port may post")
    return run_server(settings)


def _base_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.port}"


def send(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.tools.client import post

    url = args.url or _base_url(settings) + KINDS_BY_NAME[args.kind].route
    try:
        status, text = post(
            url, args.file.read_bytes(), content_type=args.content_type, token=args.token
        )
    except OSError as error:
        reason = getattr(error, "reason", error)
        print(f"bridge: cannot reach {url}: {reason}", file=sys.stderr)
        return 1
    print(f"{status} {text}")
    return 0 if 200 <= status < 300 else 1


def consume(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.tools.topic_reader import print_records

    return asyncio.run(
        print_records(
            settings,
            args.topic or KINDS_BY_NAME[args.kind].topic_of(settings),
            group=args.group,
            from_beginning=args.from_beginning,
            keys=args.key,
            pretty=args.format == "pretty",
            max_records=args.max_records,
            idle_timeout=args.timeout,
        )
    )


def schema(args: argparse.Namespace, settings: Settings) -> int:
    import msgspec

    from bridge.contract import documents, value_schema
    from bridge.kinds import KINDS

    if args.write is not None:
        args.write.mkdir(parents=True, exist_ok=True)
        for name, content in documents().items():
            (args.write / name).write_bytes(content)
            print(f"wrote {args.write / name}")
        return 0
    if args.check is not None:
        stale = [
            name
            for name, content in documents().items()
            if not (args.check / name).exists() or (args.check / name).read_bytes() != content
        ]
        for name in stale:
            print(
                f"bridge: {args.check / name} is out of date; run bridge schema --write "
                f"{args.check}",
                file=sys.stderr,
            )
        return 1 if stale else 0
    schemas = {kind.name: value_schema(kind) for kind in KINDS if args.kind in (None, kind.name)}
    print(msgspec.json.format(msgspec.json.encode(schemas), indent=2).decode())
    return 0


def dlq_list(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.tools.dead_letters import listing
    from bridge.tools.topic_reader import read_to_end, write_json

    for letter in listing(asyncio.run(read_to_end(settings, settings.topic_dlq))):
        write_json(sys.stdout, letter, pretty=args.format == "pretty")
    return 0


def dlq_show(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.tools.dead_letters import position
    from bridge.tools.topic_reader import read_one

    record = asyncio.run(read_one(settings, settings.topic_dlq, *position(args.position)))
    sys.stdout.buffer.write(record.value or b"")
    return 0


def dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from bridge.tools.client import post
    from bridge.tools.dead_letters import (
        ReplayError,
        listing,
        marker_headers,
        position,
        replay_body,
    )
    from bridge.tools.topic_reader import append, read_one, read_to_end

    if args.value is not None and len(args.positions) != 1:
        raise ReplayError("--value replaces the bytes of exactly one dead letter")
    wanted = [position(text) for text in args.positions]
    done = {
        (letter.partition, letter.offset)
        for letter in listing(asyncio.run(read_to_end(settings, settings.topic_dlq)))
        if letter.replayed
    }
    token = args.token or (settings.auth_tokens[0] if settings.auth_tokens else None)
    base = args.url or _base_url(settings)
    failed = 0
    for partition, offset in wanted:
        where = f"{partition}:{offset}"
        if (partition, offset) in done and not args.force:
            print(f"{where} skipped: replayed before (use --force to send it again)")
            continue
        record = asyncio.run(read_one(settings, settings.topic_dlq, partition, offset))
        replacement = args.value.read_bytes() if args.value is not None else None
        route, body = replay_body(record, replacement)
        status, text = post(base + route, body, token=token)
        print(f"{where} {status} {text}")
        if status == 200 and _forwarded_all(text):
            asyncio.run(append(settings, settings.topic_dlq, b"", marker_headers(record, status)))
        else:
            failed += 1
    return 1 if failed else 0


def _forwarded_all(answer_text: str) -> bool:
    import msgspec

    from bridge.http.answers import Answer

    try:
        answer = msgspec.json.decode(answer_text, type=Answer)
    except msgspec.DecodeError:
        return False
    return answer.code == 200 and answer.dead_lettered == 0


def reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from bridge.logs import configure_logging
    from bridge.tools import reconcile as runs
    from bridge.vod.api import VideoApi

    configure_logging(settings.log_level)
    try:
        VideoApi(settings)  # the API's settings, checked before anything is read
    except SettingsError as error:
        print(f"bridge: {error}", file=sys.stderr)
        return 2
    if args.every is not None:
        if args.lookback is None:
            raise ValueError("--every needs --lookback: each run covers the last DURATION")
        metrics = runs.ReconcileMetrics()
        if args.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(args.metrics_port, registry=metrics.registry)
        every = runs.duration(args.every)
        lookback = runs.duration(args.lookback)
        asyncio.run(runs.every(settings, every, lookback, dry_run=args.dry_run, metrics=metrics))
        return 0
    if args.lookback is not None:
        if args.until is not None:
            raise ValueError("--until goes with --since; --lookback windows end now")
        window = runs.lookback_window(runs.duration(args.lookback))
    else:
        until = runs.instant(args.until) if args.until else datetime.now(UTC)
        window = runs.Window(runs.instant(args.since), until)
    try:
        stats = asyncio.run(runs.reconcile(settings, window, dry_run=args.dry_run))
    except runs.ReconcileError as error:
        print(f"bridge: reconcile failed: {error}", file=sys.stderr)
        return 1
    return 0 if stats.complete else 1
