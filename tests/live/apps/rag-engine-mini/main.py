"""The flagship's API, stood in: a stdlib request handler (see README.md)."""
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

    def do_GET(self):
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
