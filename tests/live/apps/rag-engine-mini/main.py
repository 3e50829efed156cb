"""The flagship's API, stood in: a stdlib request handler (see README.md)."""
import base64
import hashlib
import json
import os
import socket
from http.server import BaseHTTPRequestHandler

from ragc_standin import pg, resp

UPLOADS = "/app/uploads"


class app(BaseHTTPRequestHandler):  # noqa: N801 - `uvicorn main:app` names it
    def reply(self, code, value):
        body = (json.dumps(value) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket_echo(self):
        """RFC 6455's handshake, then one text frame echoed back: what a
        proxy must pass through (the Upgrade and Connection headers)."""
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.protocol_version = "HTTP/1.1"  # a 101 is HTTP/1.1's
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        head = self.rfile.read(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(self.rfile.read(2), "big")
        mask = self.rfile.read(4)
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
        reply = b"echo: " + data
        self.wfile.write(bytes([0x81, len(reply)]) + reply)
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket_echo()
        if self.path == "/health":
            return self.reply(200, {"status": "ok"})
        if self.path == "/ready":
            try:
                pg.connect(os.environ["DATABASE_URL"], timeout=3).query("SELECT 1")
                resp.connect(os.environ["REDIS_URL"], timeout=3).command("PING")
                socket.create_connection((os.environ["QDRANT_HOST"], int(os.environ["QDRANT_PORT"])), timeout=3).close()
            except (OSError, pg.Error, resp.Error) as e:
                return self.reply(503, {"error": str(e)})
            return self.reply(200, {"status": "ready"})
        if self.path == "/items":
            rows = pg.connect(os.environ["DATABASE_URL"]).query("SELECT id, body FROM items ORDER BY id")
            return self.reply(200, [list(r) for r in rows])
        return self.reply(404, {"error": "not found"})

    def do_PUT(self):
        if self.path.startswith("/uploads/"):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with open(os.path.join(UPLOADS, os.path.basename(self.path)), "wb") as f:
                f.write(data)
            return self.reply(201, {"stored": len(data)})
        return self.reply(404, {"error": "not found"})
