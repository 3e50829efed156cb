"""A minimal PostgreSQL client: startup, SCRAM-SHA-256/cleartext auth, simple queries."""
import base64
import hashlib
import hmac
import os
import socket
import struct
import urllib.parse


class Error(Exception):
    pass


def connect(url, timeout=10):
    u = urllib.parse.urlparse(url)
    return Conn(u.hostname, u.port or 5432, urllib.parse.unquote(u.username or "postgres"),
                urllib.parse.unquote(u.password or ""), u.path.lstrip("/") or "postgres", timeout)


class Conn:
    def __init__(self, host, port, user, password, db, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        params = b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
        self.sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
        while True:
            kind, body = self.read()
            if kind == b"R":
                code = struct.unpack("!I", body[:4])[0]
                if code == 10:
                    self.scram(password)
                elif code == 3:
                    self.send(b"p", password.encode() + b"\0")
                elif code not in (0, 12):
                    raise Error("unsupported authentication request %d" % code)
            elif kind == b"E":
                raise Error(error_text(body))
            elif kind == b"Z":
                return

    def scram(self, password):
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = "n=,r=" + nonce
        first = ("n,," + first_bare).encode()
        self.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        kind, body = self.read()
        if kind == b"E":
            raise Error(error_text(body))
        server_first = body[4:].decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        message = ",".join([first_bare, server_first, without_proof]).encode()
        signature = hmac.new(stored, message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.send(b"p", (without_proof + ",p=" + base64.b64encode(proof).decode()).encode())

    def send(self, kind, payload):
        self.sock.sendall(kind + struct.pack("!I", 4 + len(payload)) + payload)

    def exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise Error("connection closed by the server")
            data += chunk
        return data

    def read(self):
        head = self.exact(5)
        return head[:1], self.exact(struct.unpack("!I", head[1:])[0] - 4)

    def query(self, sql):
        """Rows (tuples of str or None) of the last statement; Error on failure."""
        self.send(b"Q", sql.encode() + b"\0")
        rows, err = [], None
        while True:
            kind, body = self.read()
            if kind == b"T":
                rows = []
            elif kind == b"D":
                n, off, row = struct.unpack("!H", body[:2])[0], 2, []
                for _ in range(n):
                    size = struct.unpack("!i", body[off:off + 4])[0]
                    off += 4
                    row.append(None if size < 0 else body[off:off + size].decode())
                    off += max(size, 0)
                rows.append(tuple(row))
            elif kind == b"E":
                err = error_text(body)
            elif kind == b"Z":
                if err:
                    raise Error(err)
                return rows

    def close(self):
        try:
            self.send(b"X", b"")
        finally:
            self.sock.close()


def error_text(body):
    fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
    return "%s: %s" % (fields.get(b"S", "ERROR"), fields.get(b"M", "?"))
