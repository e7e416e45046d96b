"""A fake service-mesh sidecar: forwards each request from 127.0.0.1, adding `X-Forwarded-For`.

Run as `python -m tests.reliability.sidecar LISTEN_PORT UPSTREAM_PORT`. Like
Envoy or ingress-nginx, it appends the address of the connection it accepted
to whatever `X-Forwarded-For` the client sent, and passes every other header
through untouched. One request per connection, framed by Content-Length:
enough for the tests, which send nothing else through it.
"""

from __future__ import annotations

import asyncio
import sys


async def _forward(
    client: asyncio.StreamReader, answer: asyncio.StreamWriter, upstream_port: int
) -> None:
    try:
        head = await client.readuntil(b"\r\n\r\n")
        request_line, *lines = head[:-4].split(b"\r\n")
        length = 0
        forwarded_for: list[bytes] = []
        kept = []
        for line in lines:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"x-forwarded-for":
                forwarded_for.append(value.strip())
                continue
            if name.strip().lower() == b"content-length":
                length = int(value)
            kept.append(line)
        body = await client.readexactly(length)
        peer = answer.get_extra_info("peername")[0].encode()
        forwarded_for.append(peer)
        kept.append(b"X-Forwarded-For: " + b", ".join(forwarded_for))
        reader, writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        writer.write(b"\r\n".join([request_line, *kept]) + b"\r\n\r\n" + body)
        await writer.drain()
        response_head = await reader.readuntil(b"\r\n\r\n")
        response_length = 0
        for line in response_head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                response_length = int(value)
        answer.write(response_head + await reader.readexactly(response_length))
        await answer.drain()
        writer.close()
    finally:
        answer.close()


async def _main(listen_port: int, upstream_port: int) -> None:
    server = await asyncio.start_server(
        lambda reader, writer: _forward(reader, writer, upstream_port), "127.0.0.1", listen_port
    )
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), int(sys.argv[2])))
