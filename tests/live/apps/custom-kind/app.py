"""custom-kind's app, stood in (see README.md)."""
import os
import urllib.request
from http.server import BaseHTTPRequestHandler


class server(BaseHTTPRequestHandler):  # noqa: N801 - `gunicorn app:server` names it
    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self.send(200, b"ok\n")
        if self.path == "/store":
            url = os.environ["S3_ENDPOINT"] + "/live/probe.txt"
            try:
                urllib.request.urlopen(urllib.request.Request(url, data=b"stored", method="PUT"), timeout=5)
                return self.send(200, urllib.request.urlopen(url, timeout=5).read())
            except OSError as e:
                return self.send(502, str(e).encode())
        return self.send(404, b"not found\n")
