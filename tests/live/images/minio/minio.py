#!/usr/bin/python3
"""`minio server DIR`, stood in (see the Dockerfile)."""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "/data"


class Handler(BaseHTTPRequestHandler):
    def send(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def path_of(self):
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p and p not in (".", "..")]
        return os.path.join(ROOT, *parts) if len(parts) >= 2 else None

    def do_GET(self):
        if self.path in ("/minio/health/live", "/minio/health/ready"):
            return self.send(200)
        path = self.path_of()
        if path and os.path.isfile(path):
            return self.send(200, open(path, "rb").read())
        return self.send(404, b"NoSuchKey")

    do_HEAD = do_GET

    def do_PUT(self):
        path = self.path_of()
        if not path:
            os.makedirs(os.path.join(ROOT, self.path.strip("/")), exist_ok=True)
            return self.send(200)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        return self.send(200)


if __name__ == "__main__":
    if sys.argv[1:2] != ["server"] or len(sys.argv) < 3:
        sys.exit("usage: minio server DIR")
    ROOT = sys.argv[2]
    print("MinIO stand-in: serving %s on :9000" % ROOT, flush=True)
    ThreadingHTTPServer(("0.0.0.0", 9000), Handler).serve_forever()
