"""A small upstream for the nginx test: a threaded HTTP/1.1 server (stdlib only).

- GET/HEAD/any plain request: answers 200 (404 under /missing) with JSON describing
  what it received: method, path, headers, the peer address and how many requests
  it has served on this TCP connection (so keep-alive to the upstream is visible).
- Every answer names the upstream (`upstream` in the JSON, for a host with two
  sites) and identifies its software the way app servers do (`Server`,
  `X-Powered-By`, `X-AspNet-Version`), so the proxy's hiding of them is visible.
- POST: reads the body (Content-Length) and answers its length and SHA-256.
- GET with `Upgrade: websocket`: a hand-written RFC 6455 handshake (101 with
  Sec-WebSocket-Accept = base64(sha1(key + GUID))), then one text frame with the
  JSON of the upgrade request, then echoes every data frame until a close frame.
"""

import base64
import hashlib
import json
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# What app servers say about themselves; the proxy must not pass these on.
IDENTIFYING_HEADERS = {"X-Powered-By": "Express", "X-AspNet-Version": "4.0.30319", "X-AspNetMvc-Version": "5.2"}


def ws_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(opcode, payload, mask):
    """One final frame. Clients must mask (RFC 6455 5.3), servers must not."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _read_exact(rfile, n):
    data = rfile.read(n)
    if data is None or len(data) != n:
        raise EOFError(f"connection closed after {0 if data is None else len(data)} of {n} bytes")
    return data


def ws_read(rfile):
    """Reads one frame: returns (opcode, payload, was_masked)."""
    b0, b1 = _read_exact(rfile, 2)
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _read_exact(rfile, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _read_exact(rfile, 8))
    key = _read_exact(rfile, 4) if masked else None
    payload = _read_exact(rfile, n)
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload, masked


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ragc-e2e-upstream"

    def setup(self):
        super().setup()
        self.served = 0

    def log_message(self, fmt, *args):  # quiet
        pass

    def _info(self):
        self.served += 1
        info = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "peer": list(self.client_address),
            "served_on_connection": self.served,
            "upstream": self.server.name,
        }
        self.server.requests.append(info)
        return info

    def _reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in IDENTIFYING_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
            return
        info = self._info()
        self._reply(404 if self.path.startswith("/missing") else 200, info)

    do_HEAD = do_GET

    def do_POST(self):
        info = self._info()
        length = int(self.headers.get("Content-Length", "0"))
        digest = hashlib.sha256()
        left = length
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        info["body_length"] = length - left
        info["body_sha256"] = digest.hexdigest()
        self._reply(200, info)

    def _websocket(self):
        info = self._info()
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws_accept(key))
        self.end_headers()
        self.wfile.flush()
        self.wfile.write(ws_frame(0x1, json.dumps(info).encode(), mask=False))
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                opcode, payload, masked = ws_read(self.rfile)
                if not masked:  # a client frame must be masked: protocol error
                    self.wfile.write(ws_frame(0x8, struct.pack("!H", 1002), mask=False))
                    return
                if opcode == 0x8:
                    self.wfile.write(ws_frame(0x8, payload[:2], mask=False))
                    self.wfile.flush()
                    return
                if opcode == 0x9:
                    self.wfile.write(ws_frame(0xA, payload, mask=False))
                elif opcode in (0x1, 0x2):
                    self.wfile.write(ws_frame(opcode, payload, mask=False))
                self.wfile.flush()
        except (EOFError, OSError):
            return


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, name="upstream"):
        super().__init__(("127.0.0.1", port), Handler)
        self.name = name
        self.requests = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()
