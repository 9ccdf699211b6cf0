"""The load generator's lean HTTP/1.1 client (bench/http1.py): answers, keep-alive, errors.

Against a real uvicorn for the happy path, and against scripted asyncio servers for the
answers uvicorn would not give (chunked, closed mid-answer, garbage, silence).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn

from motcua.testing import wait_for
from tests.bench import bench_module

http1 = bench_module("http1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _echo_app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                    send: Callable[[Any], Awaitable[None]]) -> None:
    """POST answers 201 with what it got; GET answers 200 with the client's port."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    answer = json.dumps({"method": scope["method"], "path": scope["path"],
                         "query": scope["query_string"].decode(), "body": body.decode(),
                         "auth": headers.get("authorization"),
                         "client_port": scope["client"][1]}).encode()
    await send({"type": "http.response.start", "status": 201 if scope["method"] == "POST"
                else 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
async def uvicorn_url() -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_echo_app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, what="uvicorn")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _scripted(script: Script) -> tuple[asyncio.Server, str, list[int]]:
    """A server running ``script`` per connection; also returns its connection count."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await script(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", accepted


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


async def test_posts_reach_a_real_server_on_one_kept_alive_connection(uvicorn_url: str) -> None:
    async with http1.Client(timeout=5, keepalive_expiry=60) as client:
        answers = [await client.post(f"{uvicorn_url}/v1/dossiers?x=1", content=b'{"n": %d}' % i,
                                     headers={"authorization": "Bearer t"}) for i in range(20)]
        got = await client.get(f"{uvicorn_url}/readyz")
    assert {a.status_code for a in answers} == {201}
    bodies = [a.json() for a in answers]
    assert [b["body"] for b in bodies] == [f'{{"n": {i}}}' for i in range(20)]
    assert {(b["method"], b["path"], b["query"], b["auth"]) for b in bodies} == {
        ("POST", "/v1/dossiers", "x=1", "Bearer t")}
    # One connection for all of them, one request at a time.
    assert len({b["client_port"] for b in bodies}) == 1
    assert got.status_code == 200 and got.json()["method"] == "GET"


async def test_concurrent_requests_open_at_most_the_limit_of_connections(
        uvicorn_url: str) -> None:
    async with http1.Client(timeout=5, limit=3) as client:
        answers = await asyncio.gather(*(client.post(f"{uvicorn_url}/", content=str(i).encode())
                                         for i in range(30)))
    assert sorted(int(a.json()["body"]) for a in answers) == list(range(30))
    assert 1 < len({a.json()["client_port"] for a in answers}) <= 3


async def test_a_chunked_answer_is_read_whole() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client closes

    server, url, _ = await _scripted(script)
    async with server, http1.Client(timeout=5) as client:
        answer = await client.post(url, content=b"{}")
    assert (answer.status_code, answer.text) == (201, "hello world")


async def test_an_answer_asking_to_close_is_not_reused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()  # the header alone must make the client close (no race)

    server, url, accepted = await _scripted(script)
    async with server, http1.Client(timeout=5) as client:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    assert len(accepted) == 3


async def test_an_idle_connection_is_dropped_after_the_keepalive_expiry() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()

    server, url, accepted = await _scripted(script)
    async with server:
        async with http1.Client(timeout=5, keepalive_expiry=60) as client:
            await client.get(url)
            await client.get(url)
        assert len(accepted) == 1
        async with http1.Client(timeout=5, keepalive_expiry=0) as client:
            await client.get(url)
            await client.get(url)
        assert len(accepted) == 3


@pytest.mark.parametrize(("answer", "error"), [
    (b"HTTP/1.1 201 Created\r\ncontent-length: 10\r\n\r\nshort", "ReadError"),
    (b"", "ReadError"),
    (b"NOT HTTP AT ALL\r\n\r\n", "RemoteProtocolError"),
])
async def test_a_broken_answer_raises_and_the_connection_is_not_reused(
        answer: bytes, error: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()

    server, url, accepted = await _scripted(script)
    async with server, http1.Client(timeout=5) as client:
        for _ in range(2):
            with pytest.raises(http1.HTTPError) as caught:
                await client.post(url, content=b"{}")
            assert type(caught.value).__name__ == error
    assert len(accepted) == 2


async def test_silence_raises_a_timeout_and_a_refused_port_a_connect_error() -> None:
    closed_by_client = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client closes
        closed_by_client.set()

    server, url, accepted = await _scripted(script)
    async with server, http1.Client(timeout=0.2) as client:
        with pytest.raises(http1.ReadTimeout):
            await client.post(url, content=b"{}")
        # The timed-out connection is closed at once (not left open, not reused).
        await asyncio.wait_for(closed_by_client.wait(), 5)
        with pytest.raises(http1.ReadTimeout):
            await client.post(url, content=b"{}")
    assert len(accepted) == 2
    async with http1.Client(timeout=5) as client:
        with pytest.raises(http1.ConnectError):
            await client.get(f"http://127.0.0.1:{_free_port()}/")


async def test_waiting_for_a_connection_times_out_apart_and_aclose_ends_requests() -> None:
    """A request still waiting for one of the origin's connections raises PoolTimeout
    (nothing was sent); closing the client ends the request in flight (ReadError)."""
    received = asyncio.Event()

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        received.set()
        await reader.read()  # never answers

    server, url, accepted = await _scripted(script)
    async with server:
        client = http1.Client(timeout=5, limit=1)
        first = asyncio.create_task(client.post(url, content=b"{}"))
        await asyncio.wait_for(received.wait(), 5)
        with pytest.raises(http1.PoolTimeout):
            await client.post(url, content=b"{}", timeout=0.1)
        await client.aclose()
        with pytest.raises(http1.ReadError):
            await first
    assert len(accepted) == 1


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="only http://"):
        asyncio.run(http1.Client(timeout=1).get("https://127.0.0.1/"))
