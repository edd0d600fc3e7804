"""A lean HTTP/1.1 keep-alive transport for plain-``http://`` endpoints (local vLLM, SGLang, llama.cpp...).

Why not the SDK's default transport: at a few hundred requests in flight, its connection pool scans every
connection on each request and release (quadratic in the pool size), and the layers under it (anyio,
h11) cost about as much CPU again; one event loop then cannot issue more than a few hundred calls per
second, well below what a local server at concurrency 256 delivers. This transport plugs into the SDK
through httpx's documented ``transport=`` hook, so the SDK still builds requests, maps errors and
parses responses; it only moves bytes: one write per request, a LIFO pool of idle connections per host,
``Content-Length``, chunked and read-to-close bodies, and httpx's timeout and error types so the SDK
reports timeouts and connection failures exactly as before.

TLS and proxies are not handled: ``https://`` endpoints keep the SDK's default transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

try:  # openai>=3 ships its HTTP stack as httpx2; earlier releases use httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx  # type: ignore[no-redef]

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]
"""Reader, writer, and whether the server has framed its response heads with CRLF on this connection."""
_NO_BODY_STATUS = frozenset({204, 304})
_READ_LIMIT = 1 << 20


class KeepAliveTransport(httpx.AsyncBaseTransport):  # type: ignore[misc]
    """HTTP/1.1 over asyncio streams, reusing idle connections per (host, port)."""

    def __init__(self, max_idle_per_host: int = 1024) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._max_idle = max_idle_per_host
        self._closed = False

    async def handle_async_request(self, request: Any) -> Any:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"KeepAliveTransport serves http:// only, not {request.url.scheme}://")
        timeouts = request.extensions.get("timeout", {})
        address = (request.url.host, request.url.port or 80)
        payload = _serialize(request, await request.aread())
        status, headers, body = await self.send(address, payload, request.method, timeouts.get("connect"),
                                                timeouts.get("read"), request=request)
        return httpx.Response(status, headers=headers, content=body, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def send(self, address: tuple[str, int], payload: bytes, method: str, connect_timeout: float | None,
                   read_timeout: float | None, request: Any = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send one serialized request (head and body) and read the response: (status, raw headers, body).

        Failures raise httpx's own exception types (``ConnectError``, ``ReadTimeout``, ``ReadError``...),
        whether the caller is httpx (through :meth:`handle_async_request`) or the client's direct route.
        """
        connection = self._checkout(address) or await _connect(address, connect_timeout)
        try:
            status, headers, body, keep_alive, crlf = await _exchange(connection, payload, method, read_timeout)
        except TimeoutError as exc:
            _close(connection)
            raise httpx.ReadTimeout("timed out waiting for the response", request=request) from exc
        except _NoResponse as exc:
            _close(connection)
            raise httpx.RemoteProtocolError("server closed the connection without sending a response",
                                            request=request) from exc
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            _close(connection)
            raise httpx.ReadError(f"connection failed mid-response: {exc!r}", request=request) from exc
        except BaseException:
            _close(connection)
            raise
        if keep_alive and not self._closed:
            self._checkin(address, (connection[0], connection[1], crlf))
        else:
            _close(connection)
        return status, headers, body

    def _checkout(self, address: tuple[str, int]) -> _Connection | None:
        """The most recently used live idle connection: servers close idle ones after a while, and such a
        connection shows EOF here, so a closed one is almost never reused; when the close races our
        request, the error surfaces as a connection error that the client retries and counts."""
        idle = self._idle.get(address)
        while idle:
            connection = idle.pop()
            if not (connection[0].at_eof() or connection[1].is_closing()):
                return connection
            _close(connection)
        return None

    def _checkin(self, address: tuple[str, int], connection: _Connection) -> None:
        idle = self._idle.setdefault(address, [])
        if len(idle) < self._max_idle:
            idle.append(connection)
        else:
            _close(connection)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                _close(connection)
        self._idle.clear()


class _NoResponse(Exception):
    """The server closed the connection before sending a single byte of the response."""


async def _connect(address: tuple[str, int], timeout: float | None) -> _Connection:
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(*address, limit=_READ_LIMIT)
            return reader, writer, False
    except TimeoutError as exc:
        raise httpx.ConnectTimeout(f"timed out connecting to {address[0]}:{address[1]}") from exc
    except OSError as exc:
        raise httpx.ConnectError(f"cannot connect to {address[0]}:{address[1]}: {exc}") from exc


def _serialize(request: Any, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    has_length = False
    for name, value in request.headers.raw:
        lowered = name.lower()
        if lowered == b"content-length":
            has_length = True
        elif lowered in (b"connection", b"transfer-encoding"):
            continue
        lines.append(name + b": " + value)
    if not has_length and (body or request.method in ("POST", "PUT", "PATCH")):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _exchange(connection: _Connection, payload: bytes, method: str, timeout: float | None
                    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool, bool]:
    """One request and its response: (status, headers, body, keep the connection?, CRLF framing seen?).

    The first response on a connection is read line by line (bare-LF line ends are tolerated); once a
    server has framed a head with CRLF, its next heads on that connection are read in one ``readuntil``.
    """
    reader, writer, crlf = connection
    async with asyncio.timeout(timeout):
        try:
            writer.write(payload)
            await writer.drain()
            if crlf:
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, _, rest = head.partition(b"\r\n")
            else:
                status_line = await reader.readline()
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            raise _NoResponse() from exc
        except ConnectionError as exc:
            raise _NoResponse() from exc
        if not status_line:
            raise _NoResponse()
        version, status = _parse_status(status_line)
        if crlf:
            headers = [_split_header(line) for line in rest[:-4].split(b"\r\n")] if rest != b"\r\n" else []
        else:
            headers, crlf = await _read_headers(reader)
            crlf = crlf and status_line.endswith(b"\r\n")
        fields = {name.lower(): value for name, value in headers}
        connection_header = fields.get(b"connection", b"").lower()
        keep_alive = connection_header != b"close" if version == b"HTTP/1.1" else connection_header == b"keep-alive"
        if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            body = b""
        elif b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            body = await _read_chunked(reader)
        elif b"content-length" in fields:
            body = await reader.readexactly(int(fields[b"content-length"]))
        else:
            body, keep_alive = await reader.read(), False
    return status, headers, body, keep_alive, crlf


def _parse_status(line: bytes) -> tuple[bytes, int]:
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"malformed HTTP status line {line[:80]!r}")
    return parts[0], int(parts[1])


async def _read_headers(reader: asyncio.StreamReader) -> tuple[list[tuple[bytes, bytes]], bool]:
    """The header lines up to the blank line, and whether every line ended in CRLF."""
    headers: list[tuple[bytes, bytes]] = []
    crlf = True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return headers, crlf and line == b"\r\n"
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        crlf = crlf and line.endswith(b"\r\n")
        headers.append(_split_header(line))


def _split_header(line: bytes) -> tuple[bytes, bytes]:
    name, sep, value = line.partition(b":")
    if not sep:
        raise ValueError(f"malformed HTTP header line {line[:80]!r}")
    return name.strip(), value.strip()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            await _read_headers(reader)  # trailers, then the blank line
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(connection: _Connection) -> None:
    writer = connection[1]
    if not writer.is_closing():
        writer.close()
