"""A lean HTTP/1.1 client for the load generator: keep-alive connections to 127.0.0.1,
responses parsed by ``httptools`` (the C parser uvicorn uses, already installed with it).

Why not httpx: the generator runs on the same two cores as the services it measures, so
its own CPU is taken from them. httpx (with the pool split that kept its bookkeeping
small) costs 0.7-0.8 ms of CPU per request in a closed loop and 1.5-2.6 ms in the open
loop at 200/s; this client costs about 0.06 ms in the same closed loop (measured in
session 9, bench/README.md "History of runs"). It does only what the bench needs: POST
(and GET) with a body of known length, ``Content-Length`` or chunked answers, one request
at a time per connection, no redirects, proxies, TLS or cookies.

Errors are raised as :class:`HTTPError` subclasses named like httpx's, so the figures'
error kinds read the same: :class:`ConnectError`, :class:`ReadError` (the connection
closed or broke before a whole answer), :class:`RemoteProtocolError` (an answer that does
not parse), and for the timeout (one budget per request, waiting for a connection
included) :class:`PoolTimeout` (still waiting for one of the origin's connections: the
server never saw the request), :class:`ConnectTimeout` or :class:`ReadTimeout` (sent: the
server may have acted on it).
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any
from urllib.parse import urlsplit

import httptools


class HTTPError(Exception):
    """Any failure to get a whole answer."""


class ConnectError(HTTPError):
    """The connection could not be opened."""


class ReadError(HTTPError):
    """The connection closed or broke before a whole answer arrived."""


class RemoteProtocolError(HTTPError):
    """The answer is not HTTP/1.1 this client can parse."""


class TimeoutException(HTTPError):
    """No whole answer within the request's timeout."""


class PoolTimeout(TimeoutException):
    """Still waiting for a free connection to the origin: nothing was sent."""


class ConnectTimeout(TimeoutException):
    """Still opening the connection: nothing was sent."""


class ReadTimeout(TimeoutException):
    """The request was sent and no whole answer came back."""


class Response:
    """A whole answer: status and body (headers are not kept)."""

    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.body: list[bytes] = []
        self.usable = True
        self.idle_since = 0.0

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(ReadError(f"connection closed before a whole answer ({exc or 'EOF'})"))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: the connection is no longer in step
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            self._fail(RemoteProtocolError(str(exc)))

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.usable = False
        response = Response(self.parser.get_status_code(), b"".join(self.body))
        self.body = []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    # use

    async def request(self, data: bytes) -> Response:
        assert self.transport is not None
        if not self.usable or self.transport.is_closing():
            raise ReadError("connection closed before the request was sent")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            return await self.waiter
        finally:
            self.waiter = None

    def _fail(self, exc: HTTPError) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


class _Origin:
    """The connections to one host:port: at most ``limit`` open, idle ones reused newest
    first and dropped after ``keepalive_expiry`` s idle (before the server's own keep-alive
    timeout, 5 s for uvicorn, so a request never races the server closing the connection)."""

    def __init__(self, host: str, port: int, limit: int, keepalive_expiry: float) -> None:
        self.host, self.port = host, port
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[_Connection] = []
        self.open: set[_Connection] = set()
        self.closed = False
        self.keepalive_expiry = keepalive_expiry

    async def request(self, data: bytes, stage: list[type[TimeoutException]]) -> Response:
        """``stage[0]`` says what a timeout would have interrupted, as it goes."""
        async with self.slots:
            stage[0] = ConnectTimeout
            conn = await self._connection()
            stage[0] = ReadTimeout
            try:
                response = await conn.request(data)
            except BaseException:
                self._drop(conn)  # a timeout or cancel leaves it mid-answer: never reused
                raise
            if conn.usable and not self.closed:
                conn.idle_since = asyncio.get_running_loop().time()
                self.idle.append(conn)
            else:
                self._drop(conn)
            return response

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self.open.discard(conn)

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        while self.idle:
            conn = self.idle.pop()
            if conn.usable and loop.time() - conn.idle_since < self.keepalive_expiry:
                return conn
            self._drop(conn)
        try:
            _, conn = await loop.create_connection(_Connection, self.host, self.port)
        except OSError as exc:
            raise ConnectError(str(exc)) from exc
        self.open.add(conn)
        return conn

    def close(self) -> None:
        """Close every connection, idle or in use (a request in flight gets ReadError)."""
        self.closed = True
        for conn in self.open:
            conn.close()
        self.open.clear()
        self.idle.clear()


@functools.lru_cache(maxsize=64)
def _target(url: str) -> tuple[str, int, str, str]:
    """(host, port, path with query, Host header) of an ``http://`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// URLs: {url!r}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path, parts.netloc


class Client:
    """Keep-alive HTTP/1.1 to any number of origins, at most ``limit`` connections each;
    each request (waiting for a connection included) must finish within ``timeout`` s."""

    def __init__(self, *, timeout: float, limit: int = 256,
                 keepalive_expiry: float = 2.0) -> None:
        self.timeout, self.limit, self.keepalive_expiry = timeout, limit, keepalive_expiry
        self.origins: dict[tuple[str, int], _Origin] = {}

    async def post(self, url: str, *, content: bytes, headers: dict[str, str] | None = None,
                   timeout: float | None = None) -> Response:
        return await self.request("POST", url, content=content, headers=headers,
                                  timeout=timeout)

    async def get(self, url: str, *, headers: dict[str, str] | None = None,
                  timeout: float | None = None) -> Response:
        return await self.request("GET", url, headers=headers, timeout=timeout)

    async def request(self, method: str, url: str, *, content: bytes = b"",
                      headers: dict[str, str] | None = None,
                      timeout: float | None = None) -> Response:
        """One request; ``timeout`` (else the client's) bounds it, connection wait included."""
        host, port, path, netloc = _target(url)
        lines = [f"{method} {path} HTTP/1.1\r\nhost: {netloc}\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in (headers or {}).items()]
        lines.append(f"content-length: {len(content)}\r\n\r\n")
        origin = self.origins.get((host, port))
        if origin is None:
            origin = self.origins[(host, port)] = _Origin(host, port, self.limit,
                                                          self.keepalive_expiry)
        limit = self.timeout if timeout is None else timeout
        stage: list[type[TimeoutException]] = [PoolTimeout]
        try:
            async with asyncio.timeout(limit):
                return await origin.request("".join(lines).encode("latin-1") + content, stage)
        except TimeoutError as exc:
            raise stage[0](f"no whole answer within {limit:g} s") from exc

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for origin in self.origins.values():
            origin.close()
        self.origins.clear()
