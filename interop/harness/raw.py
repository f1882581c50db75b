"""The client wire protocol over a bare socket (plain or TLS), for scenarios where no
client library may filter, retry or check anything: framing and the ConnectRequest."""

from __future__ import annotations

import socket
import struct

# ConnectRequest defaults: protocol version 0, lastZxidSeen 0, a new session.
DEFAULT_TIMEOUT_MS = 30000
NEW_SESSION_PASSWD = b"\0" * 16


def send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">i", len(body)) + body)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    # MSG_WAITALL is not available on TLS sockets: loop.
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def read_frame(sock: socket.socket) -> bytes:
    (length,) = struct.unpack(">i", _read_exactly(sock, 4))
    return _read_exactly(sock, length)


def connect_request(session_id: int = 0, passwd: bytes = NEW_SESSION_PASSWD,
                    timeout_ms: int = DEFAULT_TIMEOUT_MS) -> bytes:
    """A ConnectRequest body (with the trailing readOnly flag, false)."""
    return struct.pack(">iqiqi", 0, 0, timeout_ms, session_id, len(passwd)) + passwd + b"\0"


def connect(sock: socket.socket, session_id: int = 0, passwd: bytes = NEW_SESSION_PASSWD,
            timeout_ms: int = DEFAULT_TIMEOUT_MS) -> tuple[int, int]:
    """Sends a ConnectRequest; returns the ConnectResponse's (timeout, session id)."""
    send_frame(sock, connect_request(session_id, passwd, timeout_ms))
    reply = read_frame(sock)
    _, timeout, sid = struct.unpack(">iiq", reply[:16])
    return timeout, sid


def open_socket(addr: str, timeout: float = 10.0) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)
