"""Live test of the generated nginx files: tests/e2e/test_nginx.py OUT_DIR [OUT_DIR2]

Starts Debian's nginx on 127.0.0.1 with OUT_DIR/nginx/ragc-default.conf (the default
server) and OUT_DIR/nginx/<stack>.conf, in front of the Python upstream in upstream.py.
With OUT_DIR2 (a second stack's output), its site is served by the same nginx in front
of a second upstream, as two stacks on one host are installed. Only the lines listed in
nginxrun.py are rewritten, for the test only: listen addresses, certificate paths
(self-signed pairs made with openssl), the ACME webroot and the upstream port.
Everything else (default server, headers, TLS settings, map, locations, limits,
timeouts) runs as generated.
"""

import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, main, wait_port  # noqa: E402
from nginxrun import Nginx, domain_of, loopback_only, rewrite, site_files  # noqa: E402
from upstream import IDENTIFYING_HEADERS, Upstream, ws_accept, ws_frame, ws_read  # noqa: E402

SECURITY_HEADERS = {
    # header: a regex its value must match (the stack says `headers = strict`)
    "Strict-Transport-Security": r"^max-age=(\d+); includeSubDomains$",
    "X-Content-Type-Options": r"^nosniff$",
    "X-Frame-Options": r"^DENY$",
    "Referrer-Policy": r"^strict-origin-when-cross-origin$",
    "Content-Security-Policy": r"frame-ancestors 'none'",
    "Permissions-Policy": r"camera=\(\)",
}

# Mozilla's intermediate profile: these groups, and no other (P-521, ffdhe*).
ACCEPTED_GROUPS = ("X25519", "prime256v1", "secp384r1")
REFUSED_GROUPS = ("P-521", "ffdhe2048")


def headers_of(resp):
    return [(k, v) for k, v in resp.getheaders()]


def header_values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def upstream_header(info, name):
    vals = [v for k, v in info["headers"] if k.lower() == name.lower()]
    return vals[0] if len(vals) == 1 else (None if not vals else vals)


def self_signed(tmp, domain):
    cert, key = os.path.join(tmp, f"{domain}.cert.pem"), os.path.join(tmp, f"{domain}.key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={domain}", "-addext", f"subjectAltName=DNS:{domain}",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return cert, key


def closed_without_answer(port, request):
    """Sends raw bytes over plain HTTP; True when nginx closes with no response byte (444)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        return data == b"", data[:100]


def handshake(port, server_name, cafile):
    """A TLS handshake; returns "ok" or the error's text."""
    ctx = tls_context(cafile)
    ctx.check_hostname = server_name is not None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_name):
                return "ok"
    except (ssl.SSLError, OSError) as e:
        return str(e)


def openssl_groups(port, domain, cafile, group, version):
    """openssl s_client offering only `group`: (handshake succeeded, the group agreed or the error)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", domain,
                        "-CAfile", cafile, f"-{version}", "-groups", group],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    out = r.stdout + r.stderr
    cipher = re.search(r"Cipher is (\S+)", out)
    ok = r.returncode == 0 and cipher is not None and cipher.group(1) != "(NONE)"
    temp = re.search(r"Server Temp Key: ([^\n]+)", out)
    alert = re.search(r"(alert [a-z ]+|no suitable [a-z ]+|handshake failure)", out)
    return ok, (temp.group(1) if temp else (alert.group(1) if alert else out[-300:]))


def body(t):
    tmp = tempfile.mkdtemp(prefix="ragc-e2e-nginx-")
    os.chmod(tmp, 0o755)  # nginx workers run as nobody and read the ACME token
    nginxes = []
    upstreams = []
    try:
        files = site_files(OUT)
        t.note(f"files under nginx/: {files['all']}")
        t.check("the default server nginx/ragc-default.conf is generated", files["default"] is not None, files["all"])
        site_text = open(files["site"]).read()
        domain = domain_of(site_text)
        t.note(f"site {os.path.relpath(files['site'], OUT)}, domain {domain}")
        second = None
        if OUT2:
            files2 = site_files(OUT2)
            second = {"files": files2, "text": open(files2["site"]).read()}
            second["domain"] = domain_of(second["text"])
            t.note(f"second stack: site {files2['name']}.conf, domain {second['domain']}")
            t.check("the two stacks' ragc-default.conf are the same bytes (one file serves both on a host)",
                    files["default"] and files2["default"]
                    and open(files["default"], "rb").read() == open(files2["default"], "rb").read(),
                    (files["default"], files2["default"]))

        # --- throwaway certificates, ACME webroot, upstreams ----------------------
        cert, key = self_signed(tmp, domain)
        acme_root = os.path.join(tmp, "acme")
        token = secrets.token_urlsafe(24)
        token_body = secrets.token_hex(32)
        os.makedirs(os.path.join(acme_root, ".well-known", "acme-challenge"))
        with open(os.path.join(acme_root, ".well-known", "acme-challenge", token), "w") as f:
            f.write(token_body)
        for d, _, names in os.walk(acme_root):
            os.chmod(d, 0o755)
            for name in names:
                os.chmod(os.path.join(d, name), 0o644)

        ports = set()
        while len(ports) < 5:
            ports.add(free_port())
        upstream_port, upstream2_port, http_port, https_port, alone_port = sorted(ports)
        upstream = Upstream(upstream_port, "first").start()
        upstreams.append(upstream)

        # --- the files, rewritten for the test only, inside a minimal nginx.conf --
        site, counts = rewrite(site_text, http_port, https_port, cert, key, acme_root, upstream_port)
        t.note(f"test-only rewrites: {counts}")
        expected = {"listen 80": 1, "listen 443": 1, "ssl_certificate": 1,
                    "ssl_certificate_key": 1, "acme root": 1, "upstream server": 1}
        if not t.eq("the test-only rewrites each hit the generated line exactly once",
                    {k: counts[k] for k in expected}, expected):
            return
        sites = [("site.conf", site)]
        if files["default"]:
            default, dcounts = rewrite(open(files["default"]).read(), http_port, https_port)
            t.eq("the default server's listen lines are rewritten (one on 80, one on 443)",
                 (dcounts["listen 80"], dcounts["listen 443"]), (1, 1))
            t.check("the default server carries no certificate (it rejects every handshake)",
                    "ssl_certificate" not in default, default)
            sites.insert(0, ("ragc-default.conf", default))
        if second:
            cert2, key2 = self_signed(tmp, second["domain"])
            upstream2 = Upstream(upstream2_port, "second").start()
            upstreams.append(upstream2)
            site2, counts2 = rewrite(second["text"], http_port, https_port, cert2, key2, acme_root, upstream2_port)
            t.eq("the second site's rewrites hit their lines", {k: counts2[k] for k in expected}, expected)
            sites.append(("site2.conf", site2))
        for name, text in sites:
            t.check(f"{name}: no listen directive is left on a non-loopback address", loopback_only(text),
                    re.findall(r"^\s*listen\s+[^;]*;", text, re.M))
        server = Nginx(tmp)
        nginxes.append(server)
        server.set_sites(sites)
        version = subprocess.run([server.binary, "-v"], capture_output=True, text=True).stderr.strip()
        t.note(version)
        test = server.test()
        if not t.eq("nginx -t accepts the default server with the site(s) together", test.returncode, 0):
            t.note(test.stderr)
            return
        t.eq("nginx -t gives no warning (no duplicate default server, no conflicting server name)",
             [line for line in test.stderr.splitlines() if "[warn]" in line or "[emerg]" in line], [])
        proc = server.start()
        if not t.check("nginx starts and listens on both ports",
                       wait_port(http_port, proc=proc) and wait_port(https_port, proc=proc), server.log_tail()):
            return

        def https():
            return LoopbackHTTPS(domain, https_port, tls_context(cert))

        def plain():
            return http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)

        def fetch(conn, method, path, headers=None, payload=None):
            h = {"Host": domain}
            h.update(headers or {})
            conn.request(method, path, body=payload, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r, data

        # --- 1. HTTP redirects to HTTPS ------------------------------------------
        seen = len(upstream.requests)
        r, _ = fetch(plain(), "GET", "/docs/page?x=1&y=2")
        t.eq("HTTP GET answers 301", r.status, 301)
        t.eq("the redirect goes to https://<domain><same path and query>",
             r.getheader("Location"), f"https://{domain}/docs/page?x=1&y=2")
        r, _ = fetch(plain(), "POST", "/api/upload", payload=b"x")
        t.eq("HTTP POST is redirected too, never proxied", (r.status, len(upstream.requests)), (301, seen))
        t.eq("HTTP responses show no nginx version (server_tokens off)", r.getheader("Server"), "nginx")

        # --- 2. the ACME challenge is served over HTTP ---------------------------
        r, data = fetch(plain(), "GET", f"/.well-known/acme-challenge/{token}")
        t.eq("ACME token over HTTP: 200", r.status, 200)
        t.eq("ACME token over HTTP: the file's content", data.decode(), token_body)
        t.check("ACME token over HTTP: text/plain", (r.getheader("Content-Type") or "").startswith("text/plain"),
                r.getheader("Content-Type"))
        r, _ = fetch(plain(), "GET", "/.well-known/acme-challenge/no-such-token")
        t.eq("a missing ACME token is 404, not a redirect", r.status, 404)

        # --- 3. TLS: certificate for the domain, HTTP/2 offered via ALPN ----------
        actx = tls_context(cert)
        actx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw:
            with actx.wrap_socket(raw, server_hostname=domain) as s:
                t.eq("TLS handshake with SNI verifies the domain's certificate",
                     s.getpeercert()["subject"][0][0], ("commonName", domain))
                t.eq("HTTP/2 is negotiated by ALPN (listen ... http2)", s.selected_alpn_protocol(), "h2")
                t.check("TLS 1.2 or 1.3", s.version() in ("TLSv1.2", "TLSv1.3"), s.version())
        for maxv in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            vctx = tls_context(cert)
            vctx.maximum_version = maxv
            vctx.minimum_version = maxv
            with socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw:
                with vctx.wrap_socket(raw, server_hostname=domain) as s:
                    t.eq(f"{maxv.name} is accepted", s.version(), maxv.name.replace("_", "."))

        # --- 4. security headers on HTTPS responses (proxied 200/404 and nginx's 403)
        conn = https()
        r200, d200 = fetch(conn, "GET", "/hello")
        r404, _ = fetch(conn, "GET", "/missing/page")
        r403, d403 = fetch(https(), "GET", "/.env")
        for label, r in (("proxied 200", r200), ("proxied 404", r404), ("nginx's 403", r403)):
            hs = headers_of(r)
            for name, pattern in SECURITY_HEADERS.items():
                vals = header_values(hs, name)
                t.check(f"{label}: {name} present once and right", len(vals) == 1 and re.search(pattern, vals[0]),
                        f"values {vals!r}, want one matching {pattern!r}")
            t.eq(f"{label}: Server header without version", header_values(hs, "Server"), ["nginx"])
            if label.startswith("proxied"):
                t.eq(f"{label}: the upstream's identifying headers are hidden ({', '.join(IDENTIFYING_HEADERS)})",
                     [(k, v) for k, v in hs if k in IDENTIFYING_HEADERS], [])
        hsts = re.search(r"max-age=(\d+)", r200.getheader("Strict-Transport-Security") or "")
        t.check("HSTS max-age is at least 6 months (15768000 s)", hsts and int(hsts.group(1)) >= 15768000,
                r200.getheader("Strict-Transport-Security"))
        t.check("nginx's own error page names no version", b"nginx/" not in d403, d403[:200])

        # --- 5. dotfiles are never served; /.well-known/ stays reachable ----------
        seen = len(upstream.requests)
        for path in ("/.env", "/.git/config", "/static/.htpasswd"):
            r, _ = fetch(https(), "GET", path)
            t.eq(f"GET {path} over HTTPS is 403", r.status, 403)
        t.eq("no dotfile request reached the upstream", len(upstream.requests), seen)
        r, data = fetch(https(), "GET", "/.well-known/security.txt")
        t.check("/.well-known/ over HTTPS is proxied to the upstream",
                r.status == 200 and json.loads(data)["path"] == "/.well-known/security.txt", (r.status, data[:200]))

        # --- 6. X-Forwarded-* reach the upstream, client-sent values don't win ----
        r, data = fetch(https(), "GET", "/whoami", {"X-Forwarded-For": "203.0.113.9",
                                                    "X-Forwarded-Proto": "http",
                                                    "X-Forwarded-Host": "evil.example",
                                                    "X-Real-IP": "203.0.113.9"})
        info = json.loads(data)
        t.eq("upstream gets Host: <domain>", upstream_header(info, "Host"), domain)
        t.eq("upstream gets X-Forwarded-Proto: https (the client's value replaced)",
             upstream_header(info, "X-Forwarded-Proto"), "https")
        t.eq("upstream gets X-Forwarded-Host: <domain> (the client's value replaced)",
             upstream_header(info, "X-Forwarded-Host"), domain)
        t.eq("upstream gets X-Forwarded-For: the peer address only (the client's value replaced, not appended to)",
             upstream_header(info, "X-Forwarded-For"), "127.0.0.1")
        t.eq("upstream gets X-Real-IP: the peer address (the client's value replaced)",
             upstream_header(info, "X-Real-IP"), "127.0.0.1")

        # --- 7. plain requests keep alive, client side and upstream side ----------
        conn = https()
        r1, d1 = fetch(conn, "GET", "/keepalive/1")
        sock1 = conn.sock
        r2, d2 = fetch(conn, "GET", "/keepalive/2")
        t.check("two requests over one client connection both succeed", r1.status == r2.status == 200,
                (r1.status, r2.status))
        t.check("the client connection stays open between them (no Connection: close)",
                not r1.will_close and conn.sock is sock1 and sock1 is not None,
                (r1.getheader("Connection"), r1.will_close))
        i1, i2 = json.loads(d1), json.loads(d2)
        for i, info in ((1, i1), (2, i2)):
            t.check(f"plain request {i}: the upstream gets no `Connection: upgrade` (nor close)",
                    (upstream_header(info, "Connection") or "").lower() not in ("upgrade", "close"),
                    upstream_header(info, "Connection"))
            t.eq(f"plain request {i}: the upstream gets no Upgrade header", upstream_header(info, "Upgrade"), None)
        t.check("nginx reuses its upstream connection (keepalive + empty Connection header)",
                i1["peer"] == i2["peer"] and i2["served_on_connection"] > i1["served_on_connection"],
                (i1["peer"], i1["served_on_connection"], i2["peer"], i2["served_on_connection"]))

        # --- 8. WebSocket upgrade through the proxy -------------------------------
        ws_checks(t, tls_context(cert), https_port, domain)

        # --- 9. a 10 MB upload is accepted; the body limit is enforced -------------
        payload = os.urandom(10 * 1024 * 1024)
        t0 = time.monotonic()
        r, data = fetch(https(), "POST", "/upload", {"Content-Type": "application/octet-stream"}, payload)
        t.eq("a 10 MB POST is accepted (200)", r.status, 200)
        if r.status == 200:
            info = json.loads(data)
            t.eq("the upstream receives all 10 MB, byte for byte",
                 (info["body_length"], info["body_sha256"]), (len(payload), hashlib.sha256(payload).hexdigest()))
        t.note(f"10 MB upload took {time.monotonic() - t0:.2f}s")
        limit = re.search(r"client_max_body_size\s+(\d+)([kmg]?);", site)
        factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[limit.group(2)]
        over = int(limit.group(1)) * factor + 1
        status = raw_status(tls_context(cert), https_port, domain,
                            f"POST /upload HTTP/1.1\r\nHost: {domain}\r\nContent-Length: {over}\r\n"
                            "Content-Type: application/octet-stream\r\n\r\n")
        t.eq(f"a body over client_max_body_size ({limit.group(1)}{limit.group(2)}) is refused with 413", status, 413)

        # --- 10. unknown hosts never reach the app ----------------------------------
        seen = len(upstream.requests)
        for label, request in (
                ("Host: evil.com", "GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n"),
                ("Host: 127.0.0.1 (a bare IP)", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                ("no Host header (HTTP/1.0)", "GET / HTTP/1.0\r\n\r\n"),
                ("an absolute URI naming evil.com with Host: <domain>",
                 f"GET http://evil.com/ HTTP/1.1\r\nHost: {domain}\r\n\r\n")):
            closed, data = closed_without_answer(http_port, request)
            t.check(f"HTTP with {label}: closed without an answer (444)", closed, data)
        for label, name in (("SNI evil.com", "evil.com"), ("no SNI", None)):
            result = handshake(https_port, name, cert)
            t.check(f"TLS with {label}: the handshake is rejected (unrecognized name)",
                    result != "ok" and "UNRECOGNIZED_NAME" in result.upper().replace(" ", "_"), result)
        status = raw_status(tls_context(cert), https_port, domain, "GET /whoami HTTP/1.1\r\nHost: evil.com\r\n\r\n")
        t.eq("TLS with SNI <domain> but Host: evil.com: closed without an answer", status, "")
        t.eq("no request for an unknown host reached the upstream", len(upstream.requests), seen)

        # --- 11. key exchange groups: Mozilla intermediate, nothing else -------------
        for version in ("tls1_3", "tls1_2"):
            for group in ACCEPTED_GROUPS:
                ok, detail = openssl_groups(https_port, domain, cert, group, version)
                t.check(f"openssl s_client -{version} -groups {group}: the handshake succeeds", ok, detail)
            for group in REFUSED_GROUPS:
                if version == "tls1_2" and group.startswith("ffdhe"):
                    continue  # TLS 1.2 has no ffdhe groups; its DHE ciphers are refused by the cipher list
                ok, detail = openssl_groups(https_port, domain, cert, group, version)
                t.check(f"openssl s_client -{version} -groups {group}: the handshake fails", not ok, detail)

        # --- 12. a second stack's site on the same host --------------------------------
        if second:
            d2 = second["domain"]
            conn = LoopbackHTTPS(d2, https_port, tls_context(cert2))
            conn.request("GET", "/which", headers={"Host": d2})
            r = conn.getresponse()
            info2 = json.loads(r.read())
            t.eq(f"https://{d2}/ reaches the second stack's upstream", (r.status, info2["upstream"]), (200, "second"))
            r, data = fetch(https(), "GET", "/which")
            t.eq(f"https://{domain}/ still reaches the first stack's upstream",
                 (r.status, json.loads(data)["upstream"]), (200, "first"))
            c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
            c.request("GET", "/x?y=1", headers={"Host": d2})
            r = c.getresponse()
            r.read()
            t.eq("the second site's HTTP redirect goes to its own name",
                 (r.status, r.getheader("Location")), (301, f"https://{d2}/x?y=1"))

        t.eq("nginx's error log has no emerg/alert/crit lines", server.bad_log_lines(), [])
        server.stop()

        # --- 13. the site alone (no default server in front): still no open redirect --
        alone = Nginx(tmp, "alone")
        nginxes.append(alone)
        alone_https = free_port()
        alone_site, _ = rewrite(site_text, alone_port, alone_https, cert, key, acme_root, upstream_port)
        alone.set_sites([("site.conf", alone_site)])
        test = alone.test()
        if t.eq("nginx -t accepts the site without the default server", test.returncode, 0, ):
            proc = alone.start()
            if t.check("the lone site listens", wait_port(alone_port, proc=proc), alone.log_tail()):
                c = http.client.HTTPConnection("127.0.0.1", alone_port, timeout=30)
                c.request("GET", "/login?next=/", headers={"Host": "evil.com"})
                r = c.getresponse()
                r.read()
                t.eq("HTTP with Host: evil.com to the lone site redirects to the configured name, not $host",
                     (r.status, r.getheader("Location")), (301, f"https://{domain}/login?next=/"))
        else:
            t.note(test.stderr)
    finally:
        for n in nginxes:
            n.stop()
        for u in upstreams:
            u.stop()
        if os.environ.get("RAGC_E2E_KEEP") == "1":
            print(f"     kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with SNI and certificate check for the stack's domain."""

    def __init__(self, domain, port, context):
        super().__init__(domain, port, context=context, timeout=30)

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def tls_context(cafile):
    """A fresh client context that trusts only the test certificate."""
    ctx = ssl.create_default_context(cafile=cafile)
    if hasattr(ssl, "VERIFY_X509_STRICT"):  # Python >= 3.13 sets it; a bare self-signed cert lacks its extensions
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return ctx


def raw_status(ctx, port, domain, request):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=domain) as s:
            s.sendall(request.encode())
            f = s.makefile("rb")
            line = f.readline().decode()
            m = re.match(r"HTTP/1\.1 (\d{3})", line)
            if not line:
                return ""  # closed without an answer
            return int(m.group(1)) if m else line


def ws_checks(t, ctx, port, domain):
    key = __import__("base64").b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=domain) as s:
            s.sendall((f"GET /ws HTTP/1.1\r\nHost: {domain}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            f = s.makefile("rb")
            status = f.readline().decode().rstrip()
            head = {}
            while True:
                line = f.readline().decode().rstrip("\r\n")
                if not line:
                    break
                k, _, v = line.partition(":")
                head[k.strip().lower()] = v.strip()
            if not t.check("WebSocket: the upgrade answers 101 through nginx", status.startswith("HTTP/1.1 101"), status):
                return
            t.eq("WebSocket: Sec-WebSocket-Accept is right for our key", head.get("sec-websocket-accept"), ws_accept(key))
            t.eq("WebSocket: the response says Upgrade: websocket", head.get("upgrade", "").lower(), "websocket")
            opcode, payload, masked = ws_read(f)
            info = json.loads(payload)
            t.eq("WebSocket: the upstream gets Upgrade: websocket", upstream_header(info, "Upgrade"), "websocket")
            t.eq("WebSocket: the upstream gets Connection: upgrade",
                 (upstream_header(info, "Connection") or "").lower(), "upgrade")
            t.eq("WebSocket: the upstream gets X-Forwarded-Proto: https", upstream_header(info, "X-Forwarded-Proto"), "https")
            for label, op, msg in (("text frame", 0x1, "hello through nginx".encode()),
                                   ("100 KB binary frame", 0x2, os.urandom(100 * 1024))):
                s.sendall(ws_frame(op, msg, mask=True))
                got = ws_read(f)
                t.check(f"WebSocket: a {label} is echoed back unchanged", got[0] == op and got[1] == msg and not got[2],
                        (got[0], len(got[1]), got[2]))
            s.sendall(ws_frame(0x8, b"\x03\xe8", mask=True))
            got = ws_read(f)
            t.eq("WebSocket: the close handshake completes", (got[0], got[1]), (0x8, b"\x03\xe8"))


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: test_nginx.py OUT_DIR [OUT_DIR2]")
    OUT = os.path.abspath(sys.argv[1])
    OUT2 = os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else None
    main("nginx", body)
