"""httpx over an SSH direct-tcpip channel: HTTP probes reach a container's own address.

`TunnelTransport` is an httpx transport that opens, for each request, a TCP
connection *from the host* (the pod's host, named in the request's
`fleet.ssh_host` extension) to the URL's address and port through the host's
existing SSH connection (`SSHPool.open_tcp`), and speaks HTTP/1.1 over it with
httpcore. So a port the container does not publish still answers, and two
hosts whose containers share an address (172.17.0.2 on each) never mix up.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    from fleet.remote.ssh import SSHPool

SSH_HOST = "fleet.ssh_host"


class ChannelStream(httpcore.AsyncNetworkStream):
    """An SSH channel's (reader, writer) as httpcore's network stream."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data: bytes = await self._reader.read(max_bytes)
        except (OSError, EOFError) as exc:
            raise httpcore.ReadError(str(exc) or "connection lost") from exc
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._writer.write(buffer)
            await self._writer.drain()
        except (OSError, EOFError) as exc:
            raise httpcore.WriteError(str(exc) or "connection lost") from exc

    async def aclose(self) -> None:
        with suppress(Exception):
            self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.UnsupportedProtocol("https is not supported through the SSH tunnel")


class _Body(httpx.AsyncByteStream):
    """The response body; closing it closes the channel."""

    def __init__(self, response: httpcore.Response, connection: httpcore.AsyncHTTP11Connection):
        self._response = response
        self._connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = self._response.stream
        assert hasattr(stream, "__aiter__")
        async for chunk in stream:
            yield chunk

    async def aclose(self) -> None:
        with suppress(Exception):
            await self._response.aclose()
        await self._connection.aclose()


class TunnelTransport(httpx.AsyncBaseTransport):
    """One connection per request, opened from the request's SSH host."""

    def __init__(self, pool: SSHPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.extensions.get(SSH_HOST)
        if not isinstance(host, str):
            raise httpx.UnsupportedProtocol(f"request has no {SSH_HOST} extension")
        port = request.url.port or 80
        reader, writer = await self._pool.open_tcp(host, request.url.host, port)
        connection = httpcore.AsyncHTTP11Connection(
            origin=httpcore.Origin(b"http", request.url.raw_host, port),
            stream=ChannelStream(reader, writer),
        )
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
        )
        try:
            response = await connection.handle_async_request(core_request)
        except httpcore.ProtocolError as exc:
            await connection.aclose()
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except httpcore.NetworkError as exc:
            await connection.aclose()
            raise httpx.ReadError(str(exc), request=request) from exc
        except BaseException:
            await connection.aclose()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, connection),
            extensions=response.extensions,
        )
