"""Running ragc's generated nginx files on loopback, for the live tests (stdlib only).

The generated files are used as written except for these test-only rewrites
(`rewrite` counts each, so a test can assert that each hit the line it meant):
`listen 80 ...`/`listen 443 ...` get 127.0.0.1 and free high ports (their
parameters, `ssl`, `http2`, `default_server`, stay), `listen [::]:...` lines are
dropped (tests listen on loopback only), and, where asked, the certificate paths,
the ACME webroot and the upstream `server 127.0.0.1:<port>`.
"""

import os
import re
import shutil
import signal
import subprocess
import time

DEFAULT_SITE = "ragc-default.conf"


def site_files(out):
    """The nginx files of a compiled output dir: {default, site, bootstrap, name}."""
    d = os.path.join(out, "nginx")
    names = sorted(os.listdir(d))
    bootstraps = [n for n in names if n.endswith(".bootstrap.conf")]
    sites = [n for n in names if n.endswith(".conf") and n != DEFAULT_SITE and n not in bootstraps]
    if len(sites) != 1 or len(bootstraps) > 1:
        raise AssertionError(f"want one site and at most one bootstrap form in {d}, found {names}")
    name = sites[0][: -len(".conf")]
    return {
        "name": name,
        "site": os.path.join(d, sites[0]),
        "bootstrap": os.path.join(d, bootstraps[0]) if bootstraps else None,
        "default": os.path.join(d, DEFAULT_SITE) if DEFAULT_SITE in names else None,
        "all": names,
    }


def domain_of(text):
    return re.search(r"^\s*server_name\s+([^;\s]+);", text, re.M).group(1)


def rewrite(text, http_port, https_port, cert=None, key=None, acme_root=None, upstream_port=None):
    """Returns (new_text, {what: count}) for the test-only substitutions."""
    counts = {}

    def sub(what, pattern, repl):
        nonlocal text
        text, n = re.subn(pattern, repl, text, flags=re.M)
        counts[what] = n

    sub("listen 80", r"^(\s*)listen 80((?: [^;]*)?);", rf"\g<1>listen 127.0.0.1:{http_port}\g<2>;")
    sub("listen 443", r"^(\s*)listen 443 (ssl[^;]*);", rf"\g<1>listen 127.0.0.1:{https_port} \g<2>;")
    sub("listen [::]", r"^\s*listen \[::\]:[^;]*;\n", "")
    if cert is not None:
        sub("ssl_certificate", r"^(\s*)ssl_certificate [^;]+;", rf"\g<1>ssl_certificate {cert};")
    if key is not None:
        sub("ssl_certificate_key", r"^(\s*)ssl_certificate_key [^;]+;", rf"\g<1>ssl_certificate_key {key};")
    if acme_root is not None:
        sub("acme root", r"^(\s*)root /var/www/certbot;", rf"\g<1>root {acme_root};")
    if upstream_port is not None:
        sub("upstream server", r"^(\s*)server 127\.0\.0\.1:\d+;", rf"\g<1>server 127.0.0.1:{upstream_port};")
    return text, counts


def loopback_only(text):
    """True when every listen directive is on 127.0.0.1."""
    return all(re.match(r"127\.0\.0\.1:\d+", m) for m in re.findall(r"^\s*listen\s+(\S+)", text, re.M))


class Nginx:
    """Debian's nginx with a minimal nginx.conf around the given site files."""

    def __init__(self, tmp, name="nginx"):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.proc = None
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.sites = []

    def set_sites(self, texts):
        """Writes the sites (a list of (file name, text)) and the nginx.conf including them."""
        temp = os.path.join(self.dir, "temp")
        os.makedirs(temp, exist_ok=True)
        user = ""
        if os.geteuid() == 0:
            user = "user nobody nogroup;"
            os.chown(temp, 65534, 65534)
        self.sites = []
        for file_name, text in texts:
            path = os.path.join(self.dir, file_name)
            with open(path, "w") as f:
                f.write(text)
            self.sites.append(path)
        includes = "".join(f"    include {p};\n" for p in self.sites)
        with open(self.conf, "w") as f:
            f.write(f"""{user}
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {self.dir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{includes}}}
""")

    def base(self):
        return [self.binary, "-p", self.dir, "-e", self.error_log, "-c", self.conf]

    def reload_command(self):
        """The shell command that reloads this nginx (for certbot's --deploy-hook)."""
        return " ".join(self.base() + ["-s", "reload"])

    def test(self):
        return subprocess.run(self.base() + ["-t"], capture_output=True, text=True)

    def start(self):
        self.proc = subprocess.Popen(self.base() + ["-g", "daemon off;"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self.proc

    def reload(self):
        return subprocess.run(self.base() + ["-s", "reload"], capture_output=True, text=True)

    def log_tail(self, n=2000):
        try:
            return open(self.error_log).read()[-n:]
        except OSError:
            return ""

    def bad_log_lines(self):
        return [line for line in self.log_tail(1 << 20).splitlines() if re.search(r"\[(emerg|alert|crit)\]", line)]

    def stop(self):
        stop_group(self.proc)


def stop_group(p):
    """Stops process p's group (started with start_new_session), if it still runs."""
    if p is None or p.poll() is not None:
        return
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def retry(fn, timeout=5.0):
    """fn() until it returns a true value or timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
