"""A minimal Redis client (RESP2) with AUTH and SELECT from a redis:// URL."""
import socket
import urllib.parse


class Error(Exception):
    pass


def connect(url, timeout=10):
    u = urllib.parse.urlparse(url)
    conn = Conn(socket.create_connection((u.hostname, u.port or 6379), timeout=timeout))
    if u.password:
        conn.command("AUTH", urllib.parse.unquote(u.password))
    if u.path.strip("/"):
        conn.command("SELECT", u.path.strip("/"))
    return conn


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.file = sock.makefile("rb")

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()

    def reply(self):
        line = self.file.readline()
        if not line:
            raise Error("connection closed by the server")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise Error(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise Error("bad reply %r" % line)

    def close(self):
        self.sock.close()
