"""What each `bridge` command does; `bridge.tools.cli` parses the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bridge.kinds import KINDS_BY_NAME
from bridge.settings import Settings, SettingsError, unknown_variables

log = logging.getLogger("bridge")


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
            url,
            args.file.read_bytes(),
            content_type=args.content_type,
            token=args.token,
            token_header=settings.auth_header,
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
        status, text = post(base + route, body, token=token, token_header=settings.auth_header)
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
    from bridge.tools.run_stats import ReconcileMetrics
    from bridge.tools.windows import Window, duration, instant, lookback_window
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
        metrics = ReconcileMetrics()
        if args.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(args.metrics_port, registry=metrics.registry)
        every = duration(args.every)
        lookback = duration(args.lookback)
        asyncio.run(runs.every(settings, every, lookback, dry_run=args.dry_run, metrics=metrics))
        return 0
    if args.lookback is not None:
        if args.until is not None:
            raise ValueError("--until goes with --since; --lookback windows end now")
        window = lookback_window(duration(args.lookback))
    else:
        until = instant(args.until) if args.until else datetime.now(UTC)
        window = Window(instant(args.since), until)
    try:
        stats = asyncio.run(runs.reconcile(settings, window, dry_run=args.dry_run))
    except runs.ReconcileError as error:
        print(f"bridge: reconcile failed: {error}", file=sys.stderr)
        return 1
    return 0 if stats.complete else 1
