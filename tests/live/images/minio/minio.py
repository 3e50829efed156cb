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


def credential(name):
    """MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, or the file its *_FILE names, as
    MinIO reads them: a named file that can't be read stops the server."""
    path = os.environ.get(name + "_FILE")
    if path:
        try:
            return open(path).read().strip()
        except OSError as e:
            sys.exit("MinIO stand-in: unable to read %s_FILE %s: %s" % (name, path, e))
    return os.environ.get(name, "minioadmin")


if __name__ == "__main__":
    if sys.argv[1:2] != ["server"] or len(sys.argv) < 3:
        sys.exit("usage: minio server DIR")
    user, password = credential("MINIO_ROOT_USER"), credential("MINIO_ROOT_PASSWORD")
    # MinIO's own limits on root credentials.
    if len(user) < 3 or len(password) < 8:
        sys.exit("MinIO stand-in: the root user needs 3 characters and its password 8")
    ROOT = sys.argv[2]
    print("MinIO stand-in: serving %s on :9000" % ROOT, flush=True)
    ThreadingHTTPServer(("0.0.0.0", 9000), Handler).serve_forever()
