#!/usr/bin/python3
"""The made-up `hello` app (see the Dockerfile)."""
import os
import socket
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8080"))
DATA = os.environ.get("DATA_DIR", "/data")


class Handler(BaseHTTPRequestHandler):
    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/health":
            return self.send(200, b"ok\n")
        if url.path == "/":
            return self.send(200, b"hello\n")
        if url.path == "/egress":
            q = urllib.parse.parse_qs(url.query)
            try:
                socket.create_connection((q["host"][0], int(q["port"][0])), timeout=3).close()
                return self.send(200, b"reachable\n")
            except OSError as e:
                return self.send(502, ("unreachable: %s\n" % e).encode())
        if url.path.startswith("/files/"):
            path = os.path.join(DATA, os.path.basename(url.path))
            if os.path.exists(path):
                return self.send(200, open(path, "rb").read())
        return self.send(404, b"not found\n")

    def do_PUT(self):
        url = urllib.parse.urlparse(self.path)
        if url.path.startswith("/files/"):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with open(os.path.join(DATA, os.path.basename(url.path)), "wb") as f:
                f.write(body)
            return self.send(201, b"stored\n")
        return self.send(404, b"not found\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["healthcheck"]:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/health" % PORT, timeout=3)
        except OSError:
            sys.exit(1)
        sys.exit(0)
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
