"""The operator's first day, run for real on the live engine (issues #14 and #12).

`run` calls first_day() on the flagship once the production command has
brought it up and its data is seeded. On a simulated fresh host (Debian's
nginx under a private prefix, already running with Debian's default site;
Debian's certbot; pebble, Let's Encrypt's test CA, with pebble-challtestsrv
answering 127.0.0.1 for every name; the AWS CLI stood in by
tests/e2e/stand-ins/aws, which records its calls and never reaches a cloud)
the generated scripts run as an operator runs them:

1. ops/install: the HTTP-only bootstrap site, the first certificate from
   pebble through the ACME webroot, the TLS site, the cron files; run again,
   it changes nothing; `certbot renew` reloads nginx with a new certificate;
2. through that nginx, in front of the engine: the HTTP -> HTTPS redirect, the
   pebble-issued certificate, the strict headers, a WebSocket upgrade, an
   upload under the size limit (it lands in the app's volume) and one over it;
3. ops/deploy of v1, of a v2 whose health check fails (v1 is serving again
   when it exits 1), of a v3 with a migration, while a loop of requests
   against the proxy counts what fails; ops/rollback refused (a migration ran
   since v1), then forced; ops/status after each;
4. every volume and the secrets file destroyed, then backup/restore.sh of
   the backup ops/deploy took: rows, keys, points, files and secrets are back;
5. a store whose backup fails does not discard the others'; the backup
   crontab's line, run verbatim with cron's environment, backs up every store;
6. ops/restore-drill passes, and fails on a corrupted dump;
7. ops/health-check.sh passes with the fresh backup and the certificate.

Test-only rewrites, each counted: the site files' `listen` lines move to
127.0.0.1 (ports 80 and 443, as on a server; `[::]` lines dropped), their
certificate paths and ACME webroot under the private prefix; the generated
files are put back as they were once ops/install has copied them.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

E2E = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e")
sys.path.insert(0, E2E)
from harness import crontab_parts, free_port, wait_port  # noqa: E402
from nginxrun import rewrite, stop_group  # noqa: E402

HTTP_PORT, HTTPS_PORT = 80, 443
WS_KEY, WS_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's example


class Host:
    """The simulated server: its nginx, ACME CA, cron and state directories."""

    def __init__(self, env):
        # Its own directory, not under the run's 0700 work dir: nginx's
        # workers (nobody) must reach the webroot.
        self.base = tempfile.mkdtemp(prefix="ragc-live-host-")
        os.chmod(self.base, 0o755)
        self.bin = self.path("bin")
        self.nginx_dir = self.path("etc-nginx")  # NGINX_DIR, standing for /etc/nginx
        self.letsencrypt = self.path("letsencrypt")
        self.webroot = self.path("webroot")
        self.backups = self.path("backups")
        self.procs, self.logs = [], {}
        for d in (self.bin, self.webroot, os.path.join(self.nginx_dir, "sites-available"),
                  os.path.join(self.nginx_dir, "sites-enabled"), self.path("nginx", "temp")):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.chown(self.path("nginx", "temp"), 65534, 65534)
        self.nginx_conf = self.path("nginx", "nginx.conf")
        self.error_log = self.path("nginx", "error.log")
        with open(self.nginx_conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.path("nginx"), sites=os.path.join(self.nginx_dir, "sites-enabled")))
        # `nginx` on PATH is Debian's with this prefix: what ops/install's `nginx -t` tests.
        self.write_exe("nginx", "#!/bin/sh\nexec /usr/sbin/nginx -p %s -e %s -c %s \"$@\"\n"
                       % (self.path("nginx"), self.error_log, self.nginx_conf))
        os.symlink(os.path.join(E2E, "stand-ins", "aws"), os.path.join(self.bin, "aws"))
        # Debian's default site, enabled as the package leaves it (on loopback).
        default = os.path.join(self.nginx_dir, "sites-available", "default")
        with open(default, "w") as f:
            f.write("server {\n    listen 127.0.0.1:80 default_server;\n    root /var/www/html;\n}\n")
        os.symlink(default, os.path.join(self.nginx_dir, "sites-enabled", "default"))
        self.env = dict(env, PATH=self.bin + os.pathsep + env["PATH"], NGINX_DIR=self.nginx_dir,
                        CRON_DIR=self.path("cron.d"), WEBROOT=self.webroot, LETSENCRYPT_DIR=self.letsencrypt,
                        NGINX_RELOAD=os.path.join(self.bin, "nginx") + " -s reload",
                        RAGC_STATE_DIR=self.path("state"), BACKUP_ROOT=self.backups,
                        STANDIN_LOG=self.path("aws-calls.jsonl"), STANDIN_S3_DIR=self.path("s3"),
                        CERTIFICATE=os.path.join(self.letsencrypt, "live", "rag.example.com", "fullchain.pem"),
                        HEALTH_TRIES="20", RESTORE_CONFIRM="yes")
        self.root_ca = None

    def path(self, *parts):
        return os.path.join(self.base, *parts)

    def write_exe(self, name, text):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def spawn(self, name, argv, env=None):
        self.logs[name] = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=self.logs[name], stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def log(self, name):
        try:
            return open(self.path(name + ".log")).read()[-2000:]
        except OSError:
            return ""

    def start(self):
        """nginx (as on a host where the package is installed), then pebble and its DNS."""
        nginx = self.spawn("nginx", ["/usr/sbin/nginx", "-p", self.path("nginx"), "-e", self.error_log,
                                     "-c", self.nginx_conf, "-g", "daemon off;"])
        acme, mgmt, tls, dns, chall = (free_port() for _ in range(5))
        api_cert, api_key = self.path("pebble-api.pem"), self.path("pebble-api.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", api_key, "-out", api_cert],
                       check=True, capture_output=True)
        config = self.path("pebble-config.json")
        with open(config, "w") as f:
            json.dump({"pebble": {"listenAddress": "127.0.0.1:%d" % acme, "managementListenAddress": "127.0.0.1:%d" % mgmt,
                                  "certificate": api_cert, "privateKey": api_key, "httpPort": HTTP_PORT, "tlsPort": tls,
                                  "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        challtest = self.spawn("challtestsrv", ["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % dns, "-defaultIPv4",
                                                "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "",
                                                "-tlsalpn01", "", "-management", "127.0.0.1:%d" % chall])
        pebble = self.spawn("pebble", ["pebble", "-config", config, "-dnsserver", "127.0.0.1:%d" % dns],
                            dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0"))
        up = (wait_port(HTTP_PORT, proc=nginx) and wait_port(chall, proc=challtest) and wait_port(acme, proc=pebble)
              and wait_port(mgmt, proc=pebble))
        if up:
            api = ssl.create_default_context(cafile=api_cert)
            self.root_ca = self.path("pebble-root.pem")
            with open(self.root_ca, "wb") as f:
                f.write(urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % mgmt, context=api, timeout=10).read())
        certbot_dirs = "--work-dir %s --logs-dir %s" % (self.path("certbot-work"), self.path("certbot-logs"))
        # --no-random-sleep-on-renew: run outside a terminal, certbot waits up to 8 minutes first.
        self.certbot_renew = ["certbot", "renew", "--force-renewal", "--non-interactive", "--no-random-sleep-on-renew",
                              "--config-dir", self.letsencrypt,
                              *certbot_dirs.split(), "--server", "https://127.0.0.1:%d/dir" % acme]
        self.env.update(CERTBOT_ARGS="--server https://127.0.0.1:%d/dir %s" % (acme, certbot_dirs),
                        REQUESTS_CA_BUNDLE=api_cert, CURL_CA_BUNDLE=self.root_ca or "")
        return up

    def stop(self):
        for p in reversed(self.procs):
            stop_group(p)
        for f in self.logs.values():
            f.close()
        if os.environ.get("RAGC_LIVE_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)


NGINX_CONF = """user nobody nogroup;
worker_processes 1;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    include {sites}/*;
}}
"""


class Proxy:
    """Requests to the stack's domain through the host's nginx, as a browser makes them."""

    def __init__(self, domain, cafile):
        self.domain = domain
        self.context = ssl.create_default_context(cafile=cafile)

    def tls_socket(self, timeout=10):
        raw = socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=timeout)
        return self.context.wrap_socket(raw, server_hostname=self.domain)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """(status, headers, body) over HTTPS; raises OSError/ssl.SSLError."""
        proxy = self

        class Connection(http.client.HTTPSConnection):
            def connect(self):
                self.sock = proxy.tls_socket(timeout)

        c = Connection(self.domain, HTTPS_PORT, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def plain(self, path):
        c = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        try:
            c.request("GET", path, headers={"Host": self.domain})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("Location")
        finally:
            c.close()

    def certificate(self):
        with self.tls_socket() as s:
            return s.getpeercert()

    def websocket(self, text):
        """The 101 status line, the Sec-WebSocket-Accept header and the echoed frame's text."""
        with self.tls_socket() as s:
            s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (self.domain, WS_KEY)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(1)
                if not chunk:
                    break
                head += chunk
            lines = head.decode(errors="replace").split("\r\n")
            accept = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sec-websocket-accept:")), "")
            if " 101 " not in lines[0] + " ":
                return lines[0], accept, ""
            data, mask = text.encode(), b"\x01\x02\x03\x04"
            s.sendall(bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
            frame = b""
            while len(frame) < 2 or len(frame) < 2 + frame[1]:
                chunk = s.recv(256)
                if not chunk:
                    break
                frame += chunk
            return lines[0], accept, frame[2:2 + frame[1]].decode(errors="replace") if len(frame) >= 2 else ""


class Loop(threading.Thread):
    """GET /health through the proxy every 50 ms, each on a new connection (a
    new client), until stopped: how many failed, and the longest gap."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.proxy, self.results, self.done = proxy, [], threading.Event()

    def run(self):
        while not self.done.is_set():
            began = time.monotonic()
            try:
                ok = self.proxy.request("GET", "/health", timeout=3)[0] == 200
            except (OSError, ssl.SSLError, http.client.HTTPException):
                ok = False
            self.results.append((began, ok))
            self.done.wait(max(0.0, 0.05 - (time.monotonic() - began)))

    def stop(self):
        """(requests, failed, the longest run of failures in seconds, the last one's result)."""
        self.done.set()
        self.join()
        longest, since = 0.0, None
        for t, ok in self.results:
            if not ok and since is None:
                since = t
            elif ok and since is not None:
                longest, since = max(longest, t - since), None
        if since is not None:
            longest = max(longest, self.results[-1][0] - since)
        failed = sum(1 for _, ok in self.results if not ok)
        return len(self.results), failed, longest, bool(self.results and self.results[-1][1])


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree_digests(root):
    return {name: sha256(os.path.join(root, name)) for name in sorted(os.listdir(root))} if os.path.isdir(root) else {}


def dated_dirs(root):
    return sorted(d for d in os.listdir(root) if re.fullmatch(r"\d{8}T\d{6}Z", d)) if os.path.isdir(root) else []


def first_day(stack, probes, check, compose_binary):
    """Runs the whole day; every assertion goes through `check`."""
    name = stack.name + ": operator"
    host = Host(stack.env)
    out, src = stack.out, stack.src
    say = lambda what, ok, detail="": check("%s: %s" % (name, what), ok, detail)  # noqa: E731
    main_py = os.path.join(src, "main.py")
    original_main = open(main_py).read()
    migration = os.path.join(src, "migrations", "002_live_v3.sql")
    try:
        if not say("nginx, pebble and pebble-challtestsrv start on the host", host.start(),
                   host.log("nginx") + host.log("pebble") + open(host.error_log).read()[-1500:]):
            return
        domain = re.search(r"^\s*server_name\s+([^;\s]+);", open(os.path.join(out, "nginx", "rag-engine.conf")).read(), re.M).group(1)
        proxy = Proxy(domain, host.root_ca)
        if not install(stack, host, proxy, say):
            return
        check_proxy(stack, proxy, probes, say)
        taken = deploys(stack, host, proxy, say, main_py, original_main, migration)
        backups(stack, host, probes, say, taken)
        check_cron_line(stack, host, say, compose_binary)
        check_drill_and_health(stack, host, say)
    finally:
        with open(main_py, "w") as f:
            f.write(original_main)
        if os.path.exists(migration):
            os.remove(migration)
        host.stop()


def script(host, stack, argv, timeout=900):
    code, out, err = subprocess_run(argv, stack.out, host.env, timeout)
    return code, out + err


def subprocess_run(argv, cwd, env, timeout):
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return 124, e.stdout or "", (e.stderr or "") + "\n(timed out after %ss)" % timeout


def install(stack, host, proxy, say):
    out = stack.out
    nginx_files = [os.path.join(out, "nginx", f) for f in sorted(os.listdir(os.path.join(out, "nginx")))]
    originals = {path: open(path).read() for path in nginx_files}
    try:
        for path, text in originals.items():
            text, counts = rewrite(text, HTTP_PORT, HTTPS_PORT, acme_root=host.webroot)
            text, moved = re.subn(r"\b(ssl_certificate(?:_key)?) /etc/letsencrypt/", r"\1 %s/" % host.letsencrypt, text)
            if path.endswith("rag-engine.conf"):
                say("the TLS site's test-only rewrites hit their lines (2 listen, 2 [::], 2 certificate paths, 1 webroot)",
                    (counts["listen 80"], counts["listen 443"], counts["listen [::]"], moved, counts["acme root"])
                    == (1, 1, 2, 2, 1), repr((counts, moved)))
            with open(path, "w") as f:
                f.write(text)
        return install_and_renew(stack, host, proxy, say)
    finally:
        for path, text in originals.items():
            with open(path, "w") as f:
                f.write(text)


def install_and_renew(stack, host, proxy, say):
    code, log = script(host, stack, [os.path.join(stack.out, "ops", "install")])
    if not say("ops/install on a fresh host exits 0 (bootstrap site, first certificate, TLS site, cron)", code == 0,
               log[-3000:] + host.log("pebble")[-1000:]):
        return False
    say("ops/install obtained the first certificate through the HTTP-only bootstrap form",
        "serving the ACME challenge with the HTTP-only form first" in log and "certificate obtained" in log, log[-1500:])
    enabled = os.path.join(host.nginx_dir, "sites-enabled")
    say("ops/install enabled the TLS site and the default server, and disabled Debian's default site",
        os.path.realpath(os.path.join(enabled, "rag-engine.conf")).endswith("sites-available/rag-engine.conf")
        and os.path.exists(os.path.join(enabled, "ragc-default.conf")) and not os.path.lexists(os.path.join(enabled, "default")),
        repr(sorted(os.listdir(enabled))))
    cron = host.env["CRON_DIR"]
    say("ops/install put the backup and health-check schedules in cron",
        sorted(os.listdir(cron)) == ["rag-engine-backup", "rag-engine-health"] if os.path.isdir(cron) else False,
        repr(os.listdir(cron) if os.path.isdir(cron) else None))
    cert, error = None, ""
    for _ in range(50):  # `nginx -s reload` returns before the new workers serve
        try:
            cert = proxy.certificate()
            break
        except (OSError, ssl.SSLError) as e:
            error = str(e)
            time.sleep(0.1)
    if not cert:
        say("nginx serves TLS with the certificate pebble issued (verified against pebble's root)", False, error)
    else:
        issuer = ", ".join("%s=%s" % kv for rdn in cert["issuer"] for kv in rdn)
        say("nginx serves TLS with the certificate pebble issued (verified against pebble's root; issuer %s, notAfter %s)"
            % (issuer, cert["notAfter"]), "Pebble" in issuer, issuer)
    code, again = script(host, stack, [os.path.join(stack.out, "ops", "install")])
    say("ops/install run again changes nothing", code == 0 and "nothing changed" in again, again[-1500:])
    serial = (cert or {}).get("serialNumber")
    code, out, err = subprocess_run(host.certbot_renew, stack.out, host.env, 300)
    renewed = None
    for _ in range(50):
        try:
            renewed = proxy.certificate().get("serialNumber")
        except (OSError, ssl.SSLError):
            renewed = None
        if renewed and renewed != serial:
            break
        time.sleep(0.1)
    say("`certbot renew` renews, and its saved deploy hook reloads nginx onto the new certificate",
        code == 0 and serial and renewed and renewed != serial, "serial %s -> %s; %s" % (serial, renewed, (out + err)[-1000:]))
    return True


def check_proxy(stack, proxy, probes, say):
    status, location = proxy.plain("/health?x=1")
    say("HTTP answers 301 to the same URL on HTTPS", status == 301 and location == "https://%s/health?x=1" % proxy.domain,
        "%s %s" % (status, location))
    status, headers, body = proxy.request("GET", "/health")
    say("the app answers /health through nginx over TLS", status == 200 and b"ok" in body, "%s %r" % (status, body[:200]))
    wanted = {"strict-transport-security": "max-age=63072000", "x-content-type-options": "nosniff",
              "x-frame-options": "DENY", "referrer-policy": "strict-origin"}
    missing = [h for h, v in wanted.items() if v not in headers.get(h, "")]
    say("the strict headers are on the app's responses (HSTS, nosniff, frame, referrer)", not missing,
        "missing %s in %s" % (missing, headers))
    status, _, body = proxy.request("GET", "/ready")
    say("through nginx, the app reaches its stores (/ready)", status == 200, "%s %r" % (status, body[:300]))
    line, accept, echoed = proxy.websocket("ping over the proxy")
    say("a WebSocket upgrade passes through nginx (101, the right accept key, a frame echoed)",
        " 101 " in line + " " and accept == WS_ACCEPT and echoed == "echo: ping over the proxy",
        "%r accept %r echo %r" % (line, accept, echoed))
    data = os.urandom(1 << 20)
    status, _, body = proxy.request("PUT", "/uploads/live-upload.bin", body=data,
                                    headers={"Content-Type": "application/octet-stream"}, timeout=30)
    code, got, err = stack.exec("api", "sha256sum /app/uploads/live-upload.bin | cut -d' ' -f1")
    want = hashlib.sha256(data).hexdigest()
    if say("a 1 MiB upload through nginx lands in the api's uploads volume", status == 201 and got.strip() == want,
           "%s %r; %s %s" % (status, body[:200], got.strip(), err[-300:])):
        probes.append(("api: the file uploaded through nginx", "api",
                       "sha256sum /app/uploads/live-upload.bin | cut -d' ' -f1", want))
    limit = int(re.search(r"client_max_body_size (\d+)m;", open(os.path.join(stack.out, "nginx", "rag-engine.conf")).read()).group(1))
    with proxy.tls_socket() as s:
        s.sendall(("PUT /uploads/too-big.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                   % (proxy.domain, (limit << 20) + 1)).encode())
        first = s.recv(64).decode(errors="replace").split("\r\n")[0]
    say("an upload over the %d MiB limit is refused by nginx (413) before the app sees it" % limit, " 413 " in first + " ", first)


def api_image(stack):
    return ((stack.inspect("api") or {}).get("Config") or {}).get("Image", "")


def timed_deploy(stack, host, proxy, argv):
    loop = Loop(proxy)
    loop.start()
    began = time.monotonic()
    code, log = script(host, stack, argv)
    seconds = time.monotonic() - began
    return code, log, seconds, loop.stop()


def deploys(stack, host, proxy, say, main_py, original_main, migration):
    ops = os.path.join(stack.out, "ops")

    def status():
        code, text = script(host, stack, [os.path.join(ops, "status")], timeout=120)
        return code, text

    def state():
        """The tag ops/deploy recorded as deployed."""
        path = os.path.join(host.env["RAGC_STATE_DIR"], "deployed")
        return open(path).read().strip() if os.path.exists(path) else ""

    def reports(text, tag):
        return re.search(r"^deployed  %s since \S+$" % re.escape(tag), text, re.M) is not None

    code, log, seconds, (n, failed, gap, last) = timed_deploy(stack, host, proxy, [os.path.join(ops, "deploy"), "--tag", "live-v1"])
    say("ops/deploy --tag live-v1 (the first deploy) exits 0 and serves live-v1",
        code == 0 and api_image(stack).endswith(":live-v1") and state() == "live-v1", log[-2500:])
    say("  live-v1: %d requests through the proxy during the %.0f s deploy, %d failed, longest gap %.1f s" % (n, seconds, failed, gap),
        last, "the last request failed")
    code, text = status()
    say("ops/status reports live-v1 deployed", code == 0 and reports(text, "live-v1"), text[-1500:])

    broken = original_main.replace('return self.reply(200, {"status": "ok"})', 'return self.reply(500, {"status": "broken"})')
    if not say("v2 is the app with a /health that fails", broken != original_main):
        return
    with open(main_py, "w") as f:
        f.write(broken)
    before = dated_dirs(host.backups)
    code, log, seconds, (n, failed, v2_gap, last) = timed_deploy(stack, host, proxy, [os.path.join(ops, "deploy"), "--tag", "live-v2"])
    with open(main_py, "w") as f:
        f.write(original_main)
    say("ops/deploy --tag live-v2 (its health check fails) exits 1 at its trial; live-v1 was never replaced",
        code == 1 and api_image(stack).endswith(":live-v1") and state() == "live-v1" and "failed its trial" in log
        and "live-v1 kept serving" in log, log[-2500:])
    say("  live-v2: %d requests through the proxy during the %.0f s failed deploy, %d failed (longest gap %.1f s)"
        % (n, seconds, failed, v2_gap), n > 0 and failed == 0, "a failed deploy interrupted the service")
    _, left, _ = subprocess_run(["/usr/bin/docker", "ps", "-aq", "--filter", "name=rag-engine-trial-"], None, None, 60)
    say("the trial's containers are gone", not left.strip(), left)
    new = [d for d in dated_dirs(host.backups) if d not in before]
    kept = sorted(os.listdir(os.path.join(host.backups, new[-1]))) if new else []
    taken = os.path.join(host.backups, new[-1]) if new else None
    say("ops/deploy backed up every store first (a dated backup with db, cache, vectors, api, _secrets)",
        kept == ["_secrets", "api", "cache", "db", "vectors"], repr((new, kept)))
    calls = [json.loads(line)["argv"] for line in open(host.env["STANDIN_LOG"])] if os.path.exists(host.env["STANDIN_LOG"]) else []
    say("the backup synced offsite (the aws stand-in recorded `s3 sync ... s3://rag-backups/rag-engine/STAMP`)",
        any(c[1:3] == ["s3", "sync"] and c[-1].startswith("s3://rag-backups/rag-engine/") for c in calls), repr(calls[-3:]))
    code, text = status()
    say("ops/status reports live-v1 still deployed after live-v2 failed", code == 0 and reports(text, "live-v1"), text[-1500:])

    with open(migration, "w") as f:
        f.write("ALTER TABLE items ADD COLUMN IF NOT EXISTS tag text\n")
    code, log, seconds, (n, failed, gap, last) = timed_deploy(stack, host, proxy, [os.path.join(ops, "deploy"), "--tag", "live-v3"])
    say("ops/deploy --tag live-v3 (with a migration) exits 0 and serves live-v3",
        code == 0 and api_image(stack).endswith(":live-v3") and state() == "live-v3", log[-2500:])
    stack.downtime = (n, failed, gap, seconds)
    say("  live-v3: %d requests through the proxy during the %.0f s deploy, %d failed, longest gap %.1f s"
        % (n, seconds, failed, gap), last and gap < 10, "gap %.1f s, last ok %s" % (gap, last))
    code, text = status()
    say("ops/status reports live-v3 deployed", code == 0 and reports(text, "live-v3"), text[-1500:])
    env = stack.services()["db"]["environment"]
    code, got, err = stack.exec("db", "psql -qAt -U %s -d %s -c \"SELECT version_num FROM alembic_version WHERE version_num = '002_live_v3'\""
                                % (env["POSTGRES_USER"], env["POSTGRES_DB"]))
    say("live-v3's release job ran its migration before the app started", got.strip() == "002_live_v3", got + err)

    code, log = script(host, stack, [os.path.join(ops, "rollback")])
    say("ops/rollback refuses: a release job (migration) ran since live-v1",
        code == 1 and "refusing" in log and "live-v3" in log and api_image(stack).endswith(":live-v3"), log[-1500:])
    code, log = script(host, stack, [os.path.join(ops, "rollback"), "--force"])
    say("ops/rollback --force returns to live-v1 without building", code == 0 and api_image(stack).endswith(":live-v1")
        and state() == "live-v1" and "building" not in log, log[-1500:])
    code, text = status()
    say("ops/status reports live-v1 deployed again, since the rollback", code == 0 and reports(text, "live-v1"), text[-1500:])
    state_ = stack.wait_healthy(stack.long_running())
    say("every service healthy after the rollback", all(v == "healthy" for v in state_.values()), repr(state_))
    return taken


def backups(stack, host, probes, say, latest):
    """The backup ops/deploy took before live-v2, restored after every
    volume and the secrets are gone: the data is as it was then (the
    operator's restore after a bad release)."""
    out = stack.out
    if not say("a backup to restore (the one ops/deploy took)", latest):
        return
    env_before = open(os.path.join(out, ".env.production")).read()
    secrets_before = tree_digests(os.path.join(out, "secrets"))
    stack.remember_anonymous_volumes()
    code, _, err = stack.compose("down", "-v", timeout=180)
    shutil.rmtree(os.path.join(out, "secrets"))
    os.remove(os.path.join(out, ".env.production"))
    say("destroyed: every volume (down -v), .env.production and secrets/", code == 0, err)
    code, log = script(host, stack, [os.path.join(out, "backup", "restore.sh"), latest, "_secrets"])
    env_path = os.path.join(out, ".env.production")
    say("backup/restore.sh BACKUP _secrets puts .env.production (0600) and secrets/ (0700) back, byte for byte",
        code == 0 and os.path.exists(env_path) and open(env_path).read() == env_before
        and os.stat(env_path).st_mode & 0o777 == 0o600 and tree_digests(os.path.join(out, "secrets")) == secrets_before
        and os.stat(os.path.join(out, "secrets")).st_mode & 0o777 == 0o700, log[-1500:])
    code, o, e = stack.compose("up", "-d", "--wait", "--wait-timeout", "150", timeout=300)
    say("the stack comes up on empty volumes", code == 0, (o + e)[-1500:])
    code, log = script(host, stack, [os.path.join(out, "backup", "restore.sh"), latest])
    say("backup/restore.sh BACKUP (every store) exits 0", code == 0, log[-2500:])
    stack.wait_healthy(stack.long_running())
    stack.check_probes(probes, "back after backup, destroying every volume, restore")

    code, _, err = stack.compose("stop", "vectors", timeout=120)
    before = dated_dirs(host.backups)
    code, log = script(host, stack, [os.path.join(out, "backup", "backup.sh")])
    new = [d for d in dated_dirs(host.backups) if d not in before]
    kept = sorted(os.listdir(os.path.join(host.backups, new[-1]))) if new else []
    say("with the vector store down, backup.sh exits 1 naming it and keeps the others' backups",
        code == 1 and "vectors" in log and kept == ["_secrets", "api", "cache", "db"], "rc %s kept %s\n%s" % (code, kept, log[-1500:]))
    stack.compose("start", "vectors", timeout=120)
    state = stack.wait_healthy(["vectors"])
    say("the vector store is healthy again", state.get("vectors") == "healthy", repr(state))


def check_cron_line(stack, host, say, compose_binary):
    """The backup crontab's line, run verbatim as cron runs it: /bin/sh -c
    LINE with cron's environment (HOME, LOGNAME, SHELL, PATH) and the
    crontab's assignments, in a private mount namespace whose /var/backups,
    /var/log and /usr/local/bin are test folders (the aws stand-in there)
    and whose /usr/local/lib/docker/cli-plugins holds Compose v2, where a
    host that has it installed system-wide has it."""
    crontab = open(os.path.join(stack.out, "backup", "crontab")).read()
    assignments, entries = crontab_parts(crontab)
    if not say("the backup crontab has one line, run as root", len(entries) == 1 and entries[0].split()[5] == "root", crontab):
        return
    command = entries[0].split(None, 6)[6].replace("\\%", "%")
    cron = host.path("cron-run")
    bindir, backups, logs = (os.path.join(cron, d) for d in ("usr-local-bin", "var-backups", "var-log"))
    for d in (bindir, backups, logs):
        os.makedirs(d)
    shutil.copy2(os.path.join(E2E, "stand-ins", "aws"), os.path.join(bindir, "aws"))
    with open(os.path.join(bindir, "standin-env.json"), "w") as f:
        json.dump({"STANDIN_LOG": host.env["STANDIN_LOG"], "STANDIN_S3_DIR": host.env["STANDIN_S3_DIR"]}, f)
    mount = ('mount --bind "$1" /usr/local/bin && mount --bind "$2" /var/backups && mount --bind "$3" /var/log'
             ' && mount -t tmpfs tmpfs /usr/local/lib && mkdir -p /usr/local/lib/docker/cli-plugins'
             ' && ln -s "$4" /usr/local/lib/docker/cli-plugins/docker-compose && shift 4 && exec env -i "$@"')
    env = {"HOME": "/root", "LOGNAME": "root", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", **assignments}
    argv = (["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", mount, "sh", bindir, backups, logs,
             compose_binary] + ["%s=%s" % kv for kv in env.items()] + ["/bin/sh", "-c", command])
    code, out, err = subprocess_run(argv, "/", None, 600)
    log_path = os.path.join(logs, "rag-engine-backup.log")
    log = open(log_path).read() if os.path.exists(log_path) else "(no log)"
    say("the backup cron line, run verbatim with cron's environment, exits 0", code == 0,
        "exit %s %s; log: %s" % (code, (out + err)[-500:], log[-1500:]))
    root = os.path.join(backups, "rag-engine")
    dirs = dated_dirs(root)
    kept = sorted(os.listdir(os.path.join(root, dirs[-1]))) if dirs else []
    say("... and a backup of every store appears in /var/backups/rag-engine, its log in /var/log/rag-engine-backup.log",
        kept == ["_secrets", "api", "cache", "db", "vectors"] and "backup complete" in log, repr((dirs, kept)))


def check_drill_and_health(stack, host, say):
    out = stack.out
    code, log = script(host, stack, [os.path.join(out, "ops", "restore-drill")])
    say("ops/restore-drill restores the newest backups into a scratch project and passes", code == 0 and "FAIL" not in log,
        log[-2500:])
    code, log = script(host, stack, [os.path.join(out, "ops", "health-check.sh")], timeout=300)
    say("ops/health-check.sh passes (services, proxy, certificate, the backups' age)", code == 0, log[-2000:])
    dirs = [d for d in dated_dirs(host.backups) if os.path.exists(os.path.join(host.backups, d, "db", "database.dump"))]
    dump = os.path.join(host.backups, dirs[-1], "db", "database.dump")
    with open(dump, "r+b") as f:
        f.truncate(os.path.getsize(dump) // 2)
    code, log = script(host, stack, [os.path.join(out, "ops", "restore-drill")])
    say("ops/restore-drill fails on a truncated PostgreSQL dump", code != 0 and "FAIL" in log, log[-2000:])
    _, left, _ = subprocess_run(["/usr/bin/docker", "ps", "-a", "-q", "--filter",
                                 "label=com.docker.compose.project=rag-engine-drill"], None, None, 60)
    say("the drill's scratch project is gone after each run", not left.strip(), left)
