#!/usr/bin/python3
"""A minimal stand-in for Qdrant's HTTP API (see the Dockerfile for what it is not)."""
import json
import os
import re
import shutil
import sys
import tarfile
import io
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.getcwd()
STORAGE = os.path.join(ROOT, "storage", "collections")
SNAPSHOTS = os.path.join(ROOT, "snapshots")


def log(msg):
    print(time.strftime("%Y-%m-%dT%H:%M:%S"), msg, flush=True)


def coll_path(name):
    return os.path.join(STORAGE, name, "collection.json")


def load(name):
    with open(coll_path(name)) as f:
        return json.load(f)


def save(name, data):
    os.makedirs(os.path.dirname(coll_path(name)), exist_ok=True)
    tmp = coll_path(name) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, coll_path(name))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))

    def reply(self, code, result=None, raw=None):
        body = raw if raw is not None else json.dumps(
            {"result": result, "status": "ok" if code < 400 else {"error": str(result)}, "time": 0.0}
        ).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self, method):
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        try:
            if method == "GET" and path in ("/readyz", "/healthz", "/livez"):
                return self.reply(200, raw=b"all shards are ready")
            if method == "GET" and path == "/collections":
                names = sorted(os.listdir(STORAGE)) if os.path.isdir(STORAGE) else []
                return self.reply(200, {"collections": [{"name": n} for n in names if os.path.exists(coll_path(n))]})
            m = re.fullmatch(r"/collections/([A-Za-z0-9_-]+)(/.*)?", path)
            if not m:
                return self.reply(404, "not found: " + path)
            name, rest = m.group(1), m.group(2) or ""
            exists = os.path.exists(coll_path(name))
            if rest == "":
                if method == "PUT":
                    save(name, {"config": json.loads(self.body() or b"{}"), "points": {}})
                    return self.reply(200, True)
                if method == "DELETE":
                    shutil.rmtree(os.path.join(STORAGE, name), ignore_errors=True)
                    return self.reply(200, exists)
                if method == "GET" and exists:
                    data = load(name)
                    return self.reply(200, {"status": "green", "points_count": len(data["points"]), "config": data["config"]})
                return self.reply(404, "Collection `%s` doesn't exist!" % name)
            if rest == "/snapshots/recover" and method == "PUT":
                loc = json.loads(self.body())["location"]
                return self.restore(name, open(loc[len("file://"):], "rb").read() if loc.startswith("file://") else b"")
            if rest == "/snapshots/upload" and method == "POST":
                return self.restore(name, self.multipart_file(self.body()))
            if not exists:
                return self.reply(404, "Collection `%s` doesn't exist!" % name)
            if rest == "/points" and method == "PUT":
                data = load(name)
                for p in json.loads(self.body())["points"]:
                    data["points"][str(p["id"])] = p
                save(name, data)
                return self.reply(200, {"operation_id": 0, "status": "completed"})
            if rest == "/points/count" and method == "POST":
                return self.reply(200, {"count": len(load(name)["points"])})
            snapdir = os.path.join(SNAPSHOTS, name)
            if rest == "/snapshots" and method == "POST":
                os.makedirs(snapdir, exist_ok=True)
                snap = "%s-%s.snapshot" % (name, time.strftime("%Y-%m-%d-%H-%M-%S"))
                with tarfile.open(os.path.join(snapdir, snap), "w") as t:
                    t.add(coll_path(name), arcname="collection.json")
                return self.reply(200, {"name": snap, "size": os.path.getsize(os.path.join(snapdir, snap))})
            if rest == "/snapshots" and method == "GET":
                snaps = sorted(os.listdir(snapdir)) if os.path.isdir(snapdir) else []
                return self.reply(200, [{"name": s, "size": os.path.getsize(os.path.join(snapdir, s))} for s in snaps])
            m = re.fullmatch(r"/snapshots/([^/]+)", rest)
            if m and os.path.exists(os.path.join(snapdir, m.group(1))):
                f = os.path.join(snapdir, m.group(1))
                if method == "GET":
                    return self.reply(200, raw=open(f, "rb").read())
                if method == "DELETE":
                    os.remove(f)
                    return self.reply(200, True)
            return self.reply(404, "not found: " + path)
        except Exception as e:  # noqa: BLE001 - a 500 with the reason, as Qdrant answers
            return self.reply(500, repr(e))

    def multipart_file(self, body):
        boundary = self.headers.get("Content-Type", "").split("boundary=")[-1].strip('"').encode()
        for part in body.split(b"--" + boundary):
            head, _, data = part.partition(b"\r\n\r\n")
            if b"filename=" in head:
                return data[: -2] if data.endswith(b"\r\n") else data
        return b""

    def restore(self, name, blob):
        with tarfile.open(fileobj=io.BytesIO(blob)) as t:
            data = json.load(t.extractfile("collection.json"))
        save(name, data)
        return self.reply(200, True)

    def do_GET(self):
        self.route("GET")

    def do_PUT(self):
        self.route("PUT")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")


def main():
    init = os.environ.get("QDRANT_INIT_FILE_PATH", os.path.join(ROOT, ".qdrant-initialized"))
    try:
        with open(init, "w") as f:
            f.write("")
    except OSError as e:
        log("ERROR qdrant: Failed to create init file indicator: %s" % e)
    os.makedirs(STORAGE, exist_ok=True)
    port = int(os.environ.get("QDRANT__SERVICE__HTTP_PORT", "6333"))
    log("Qdrant stand-in HTTP listening on 0.0.0.0:%d" % port)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
