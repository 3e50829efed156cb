#!/usr/bin/env python3
"""Live test of the first certificate and its renewal: tests/e2e/test_acme.py OUT_DIR

A real ACME exchange, offline (see shared/design/LIVE-ENGINE.md): Debian's pebble
(Let's Encrypt's test CA) with pebble-challtestsrv as its DNS server (every name is
127.0.0.1), Debian's certbot, and nginx on loopback with the files ragc generated:

1. nginx/ragc-default.conf and the HTTP-only bootstrap form nginx/<stack>.bootstrap.conf
   load and serve the ACME webroot on the port pebble validates (its `httpPort`), while
   the TLS site cannot load yet (no certificate: the bug the bootstrap form fixes);
2. the certbot command written in the site's header, run as written but for the
   test-only flags (pebble's directory, certbot's own dirs, the webroot, nginx's reload
   command) obtains a certificate for the stack's domain;
3. the TLS site, with the certificate paths it names moved under certbot's --config-dir,
   passes `nginx -t`, is enabled in place of the bootstrap form and nginx, reloaded,
   serves the pebble-issued certificate (chain checked against pebble's root; issuer
   and notAfter printed);
4. `certbot renew --force-renewal` renews twice, once with the deploy hook the first
   command saved (what the distribution's timer runs) and once with --deploy-hook
   given, and each time nginx serves the new serial.
"""

import datetime
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, main, wait_port  # noqa: E402
from nginxrun import Nginx, domain_of, loopback_only, retry, rewrite, site_files, stop_group  # noqa: E402
from upstream import Upstream  # noqa: E402


def peer_cert(port, domain, cafile):
    """The certificate nginx serves for `domain`, verified against cafile: (dict, None) or (None, error)."""
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=domain) as s:
                return s.getpeercert(), None
    except (ssl.SSLError, OSError) as e:
        return None, str(e)


def name_of(rdns):
    return ", ".join(f"{k}={v}" for rdn in rdns for k, v in rdn)


def file_serial(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", path], capture_output=True, text=True, check=True)
    return out.stdout.strip().split("=", 1)[1].upper()


def certbot_command(site_text):
    """The certbot command of the site's install instructions, as argv (without sudo)."""
    m = re.search(r"^#\s+sudo (certbot certonly .*)$", site_text, re.M)
    return shlex.split(m.group(1)) if m else None


def replace_option(argv, option, value):
    """argv with the value after `option` replaced; None when the option is absent."""
    if option not in argv:
        return None
    i = argv.index(option)
    return argv[: i + 1] + [value] + argv[i + 2 :]


def body(t):
    tmp = tempfile.mkdtemp(prefix="ragc-e2e-acme-")
    os.chmod(tmp, 0o755)  # nginx workers run as nobody and read the webroot
    procs = []
    server = None
    upstream = None
    try:
        files = site_files(OUT)
        if not t.check("the HTTP-only bootstrap form of the site is generated", files["bootstrap"], files["all"]):
            return
        t.check("the default server is generated", files["default"], files["all"])
        site_text = open(files["site"]).read()
        bootstrap_text = open(files["bootstrap"]).read()
        domain = domain_of(site_text)
        t.eq("the bootstrap form serves the site's domain", domain_of(bootstrap_text), domain)
        t.check("the bootstrap form has no TLS server (nothing to load before the certificate)",
                not re.search(r"^\s*(listen\s+443|ssl_certificate)", bootstrap_text, re.M), bootstrap_text)
        t.note(f"stack {files['name']}, domain {domain}")

        ports = set()
        while len(ports) < 8:
            ports.add(free_port())
        http_port, https_port, acme_port, mgmt_port, tls_port, dns_port, chall_mgmt, upstream_port = sorted(ports)

        # --- pebble (its own API certificate from openssl), challtestsrv as its DNS ----
        pki = os.path.join(tmp, "pebble")
        os.makedirs(pki)
        api_cert, api_key = os.path.join(pki, "cert.pem"), os.path.join(pki, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", api_key, "-out", api_cert], check=True, capture_output=True)
        config = os.path.join(pki, "pebble-config.json")
        with open(config, "w") as f:
            json.dump({"pebble": {
                "listenAddress": f"127.0.0.1:{acme_port}",
                "managementListenAddress": f"127.0.0.1:{mgmt_port}",
                "certificate": api_cert, "privateKey": api_key,
                "httpPort": http_port, "tlsPort": tls_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        logs = {}

        def spawn(name, argv, env=None):
            logs[name] = open(os.path.join(tmp, f"{name}.log"), "w")
            p = subprocess.Popen(argv, stdout=logs[name], stderr=subprocess.STDOUT, env=env, start_new_session=True)
            procs.append(p)
            return p

        chall = spawn("challtestsrv", ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}",
                                       "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                                       "-http01", "", "-https01", "", "-tlsalpn01", "",
                                       "-management", f"127.0.0.1:{chall_mgmt}"])
        penv = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        pebble = spawn("pebble", ["pebble", "-config", config, "-dnsserver", f"127.0.0.1:{dns_port}"], penv)
        if not t.check("pebble and pebble-challtestsrv listen on loopback",
                       wait_port(chall_mgmt, proc=chall) and wait_port(acme_port, proc=pebble)
                       and wait_port(mgmt_port, proc=pebble),
                       open(os.path.join(tmp, "pebble.log")).read()[-1500:]):
            return
        api = ssl.create_default_context(cafile=api_cert)
        root_pem = urllib.request.urlopen(f"https://127.0.0.1:{mgmt_port}/roots/0", context=api, timeout=10).read()
        root = os.path.join(pki, "root.pem")
        with open(root, "wb") as f:
            f.write(root_pem)

        # --- 1. nginx with the default server and the bootstrap form --------------
        webroot = os.path.join(tmp, "webroot")
        os.makedirs(webroot)
        os.chmod(webroot, 0o755)
        default, _ = rewrite(open(files["default"]).read(), http_port, https_port)
        bootstrap, counts = rewrite(bootstrap_text, http_port, https_port, acme_root=webroot)
        t.eq("the bootstrap form's test-only rewrites hit their lines",
             (counts["listen 80"], counts["acme root"]), (1, 1))
        t.check("every listen is on loopback", loopback_only(default) and loopback_only(bootstrap), (default, bootstrap))
        server = Nginx(tmp)
        live = os.path.join(tmp, "letsencrypt")  # certbot's --config-dir, standing for /etc/letsencrypt
        upstream = Upstream(upstream_port).start()
        tls_site, tcounts = rewrite(site_text, http_port, https_port, acme_root=webroot, upstream_port=upstream_port)
        moved = {}

        def move(m):
            path = m.group(2)
            moved[m.group(1)] = path
            return f"{m.group(1)} {path.replace('/etc/letsencrypt/', live + '/', 1)};"

        tls_site, n = re.subn(r"\b(ssl_certificate|ssl_certificate_key) (/etc/letsencrypt/[^;]+);", move, tls_site)
        t.eq("the TLS site's certificate paths are under /etc/letsencrypt/ (moved under --config-dir)", n, 2)
        server.set_sites([("ragc-default.conf", default), ("site.conf", tls_site)])
        early = server.test()
        t.check("before the first certificate the TLS site fails `nginx -t` (why the bootstrap form exists)",
                early.returncode != 0 and "cannot load certificate" in early.stderr, early.stderr[-500:])
        os.truncate(server.error_log, 0)  # that [emerg] was expected; the log is checked at the end
        server.set_sites([("ragc-default.conf", default), ("site.conf", bootstrap)])
        test = server.test()
        if not t.eq("nginx -t accepts the default server with the bootstrap form", test.returncode, 0):
            t.note(test.stderr)
            return
        proc = server.start()
        if not t.check("nginx listens (HTTP on pebble's httpPort)", wait_port(http_port, proc=proc), server.log_tail()):
            return
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        c.request("GET", "/", headers={"Host": domain})
        r = c.getresponse()
        r.read()
        t.eq("the bootstrap form answers 503 outside the ACME webroot (the app is not reachable yet)", r.status, 503)
        t.eq("no request reached the app", len(upstream.requests), 0)

        # --- 2. the first certificate, with the command the site's header gives ----
        argv = certbot_command(site_text)
        if not t.check("the site's header gives a `certbot certonly --webroot` command", argv, site_text[:3000]):
            return
        t.note("header's command: " + shlex.join(argv))
        t.check("the header's command names the webroot the site serves (-w /var/www/certbot)",
                replace_option(argv, "-w", webroot) is not None and argv[argv.index("-w") + 1] == "/var/www/certbot", argv)
        t.check("the header's command names the domain (-d <domain>)", "-d" in argv and argv[argv.index("-d") + 1] == domain, argv)
        argv = replace_option(argv, "-w", webroot)
        argv = replace_option(argv, "--deploy-hook", server.reload_command())
        if not t.check("the header's command saves a --deploy-hook (renewals reload nginx)", argv is not None, argv):
            return
        certbot_dirs = ["--config-dir", live, "--work-dir", os.path.join(tmp, "certbot-work"),
                        "--logs-dir", os.path.join(tmp, "certbot-logs")]
        cenv = dict(os.environ, REQUESTS_CA_BUNDLE=api_cert)
        first = subprocess.run(argv + certbot_dirs + ["--server", f"https://127.0.0.1:{acme_port}/dir",
                                                      "--non-interactive"],
                               capture_output=True, text=True, env=cenv, timeout=180)
        if not t.eq("certbot certonly --webroot obtains a certificate from pebble", first.returncode, 0):
            t.note(first.stdout[-1500:] + first.stderr[-1500:])
            t.note(open(os.path.join(tmp, "pebble.log")).read()[-1500:])
            return
        paths = {d: p.replace("/etc/letsencrypt/", live + "/", 1) for d, p in moved.items()}
        t.check("certbot wrote the certificate and key where the TLS site reads them",
                all(os.path.isfile(p) for p in paths.values()), paths)

        # --- 3. switch to the TLS site, reload, serve the pebble-issued cert -------
        server.set_sites([("ragc-default.conf", default), ("site.conf", tls_site)])
        test = server.test()
        if not t.eq("nginx -t accepts the TLS site once the certificate exists", test.returncode, 0):
            t.note(test.stderr)
            return
        reload = server.reload()
        t.eq("nginx -s reload succeeds", reload.returncode, 0)
        if not t.check("nginx listens on HTTPS after the reload", wait_port(https_port, proc=proc), server.log_tail()):
            return
        cert, err = retry(lambda: peer_cert(https_port, domain, root)[0]), None
        if not cert:
            cert, err = peer_cert(https_port, domain, root)
        if not t.check("nginx serves a certificate for the domain that chains to pebble's root", cert, err):
            return
        issuer = name_of(cert["issuer"])
        not_before = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notBefore"]), datetime.timezone.utc)
        not_after = datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        t.note(f"issuer: {issuer}")
        t.note(f"notBefore: {cert['notBefore']}  notAfter: {cert['notAfter']}  serial: {cert['serialNumber']}")
        t.check("the issuer is pebble's intermediate CA", re.search(r"commonName=Pebble Intermediate CA", issuer), issuer)
        t.check("the certificate is valid now and for at least 30 more days",
                not_before <= now + datetime.timedelta(minutes=5) and not_after > now + datetime.timedelta(days=30),
                (cert["notBefore"], cert["notAfter"]))
        t.eq("the subjectAltName is the domain", cert.get("subjectAltName"), (("DNS", domain),))
        t.eq("the served serial is the one certbot wrote", cert["serialNumber"].upper(), file_serial(paths["ssl_certificate"]))
        ctx = ssl.create_default_context(cafile=root)

        def after_tls():
            """GET /after-tls, or None while an old worker of the reload (which
            has no TLS server for the domain yet) takes the connection."""
            conn = http.client.HTTPSConnection(domain, https_port, context=ctx, timeout=10)
            try:
                conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", https_port), timeout=10),
                                            server_hostname=domain)
            except ssl.SSLError:
                return None
            conn.request("GET", "/after-tls", headers={"Host": domain})
            r = conn.getresponse()
            return r.status, r.read()

        status, data = retry(after_tls) or (None, b"")
        t.check("HTTPS requests now reach the app", status == 200 and json.loads(data)["path"] == "/after-tls",
                (status, data[:200]))

        # --- 4. renewal: the saved hook, then an explicit --deploy-hook ------------
        renewal_conf = os.path.join(live, "renewal", f"{domain}.conf")
        saved = open(renewal_conf).read() if os.path.exists(renewal_conf) else ""
        t.check("the renewal configuration saved the deploy hook (nginx reload)",
                re.search(r"^renew_hook = .*-s reload", saved, re.M), saved[-800:])
        serial = cert["serialNumber"].upper()
        renew = ["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew", "--non-interactive"] + certbot_dirs
        for label, extra in (("the saved deploy hook", []),
                             ("--deploy-hook given", ["--deploy-hook", server.reload_command()])):
            done = subprocess.run(renew + extra, capture_output=True, text=True, env=cenv, timeout=180)
            if not t.eq(f"certbot renew --force-renewal ({label}) succeeds", done.returncode, 0):
                t.note(done.stdout[-1500:] + done.stderr[-1500:])
                return
            on_disk = file_serial(paths["ssl_certificate"])
            t.check(f"renewal ({label}) wrote a new certificate", on_disk != serial, (serial, on_disk))
            got = retry(lambda: (peer_cert(https_port, domain, root)[0] or {}).get("serialNumber", "").upper() == on_disk)
            served = (peer_cert(https_port, domain, root)[0] or {}).get("serialNumber", "").upper()
            t.check(f"after renewal ({label}) nginx serves the new serial, with no reload by the test", got,
                    (serial, on_disk, served))
            t.note(f"renewed ({label}): serial {serial} -> {served}")
            serial = on_disk
        t.eq("nginx's error log has no emerg/alert/crit lines", server.bad_log_lines(), [])
    finally:
        if server is not None:
            server.stop()
        for p in procs:
            stop_group(p)
        if upstream is not None:
            upstream.stop()
        if os.environ.get("RAGC_E2E_KEEP") == "1":
            print(f"     kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_acme.py OUT_DIR")
    OUT = os.path.abspath(sys.argv[1])
    main("acme", body)
