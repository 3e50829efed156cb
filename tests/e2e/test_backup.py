#!/usr/bin/env python3
"""Live test of the generated backup/restore scripts: tests/e2e/test_backup.py OUT_DIR

Runs OUT_DIR/backup/backup.sh and restore.sh, unchanged, against a real PostgreSQL 15
(a throwaway cluster started here on 127.0.0.1 and a socket in a temp dir, its
password the db's POSTGRES_PASSWORD_FILE) and a real Redis 7 (Debian's
redis-server, run as the `redis` user with the flagship's command: its config
file, the password's `requirepass`, then `--appendonly yes`). Both passwords come
from the secret files `ragc compile` wrote in OUT_DIR/secrets/, which Compose
mounts under /run/secrets: the scripts read them there, the apps' URLs (their own
secret files) must log in with them, and no docker call may carry a secret. The
scripts reach the stores through `docker compose ...`; a stand-in `docker`
(stand-ins/docker, whose docstring says what it reproduces of each container and
what it does not) first on PATH checks that each call addresses the production
project and runs it here, /run/secrets mounted as Compose mounts it. Qdrant can't
be stood in for faithfully: a fake server (FakeQdrant) speaks the endpoints the
scripts call, and the test asserts on those calls. The app's `uploads` volume is
a directory here. A stand-in `aws` takes the offsite calls: no real cloud CLI
ever runs (a PATH without one is built for the case "no aws").

OUT_DIR is expected inside a copy of the project (tests/e2e/run compiles into
PROJECT/deploy): the cron check copies PROJECT to where the stack's `path` says
it is cloned (/opt/STACK) inside a private mount namespace, and runs the crontab's
line verbatim with cron's environment.
"""

import datetime
import fcntl
import hashlib
import http.server
import importlib.machinery
import importlib.util
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import crontab_parts, free_port, main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PGBIN = os.environ.get("RAGC_PGBIN", "/usr/lib/postgresql/15/bin")
SERVICE, USER, DATABASE = "db", "raguser", "rag_engine"
CACHE, VECTORS, APP = "cache", "vectors", "api"  # the flagship's other backed-up services


def compose_command(service):
    """The `command:` list of a service in OUT/compose.yaml (one line of JSON there)."""
    with open(os.path.join(OUT, "compose.yaml")) as f:
        text = f.read()
    block = re.search(rf"(?ms)^  {re.escape(service)}:\n(.*?)(?=^  \S|\Z)", text)
    m = re.search(r"^    command: (\[.*\])$", block.group(1) if block else "", re.M)
    return json.loads(m.group(1)) if m else []


def load_standin():
    """stand-ins/docker as a module: the test reads the project as the stand-in
    does, so both agree on what Compose mounts where."""
    loader = importlib.machinery.SourceFileLoader("standin_docker", os.path.join(HERE, "stand-ins", "docker"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


STANDIN = load_standin()


def production_project():
    """OUT's production project, as Compose reads it (through the stand-in's reader)."""
    shell = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    return STANDIN.load_project(OUT, os.path.join(OUT, ".env.production"),
                                [os.path.join(OUT, "compose.yaml"), os.path.join(OUT, "compose.production.yaml")], shell)


def mounted(project, service, path):
    """The host file Compose mounts at `path` in the service's containers (None: no such secret)."""
    return {inside: host for host, inside in STANDIN.secret_mounts(project, service)}.get(path)


def read_text(path):
    with open(path) as f:
        return f.read()


DATED = re.compile(r"^\d{8}T\d{6}Z$")

SEED = r"""
CREATE TABLE documents (
  id bigserial PRIMARY KEY,
  title text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE chunks (
  id bigserial PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  ord int NOT NULL,
  body text NOT NULL,
  embedding real[] NOT NULL,
  raw bytea NOT NULL,
  meta jsonb NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id, ord);
CREATE VIEW chunk_counts AS SELECT document_id, count(*) AS n FROM chunks GROUP BY document_id;
INSERT INTO documents (title, created_at)
  SELECT 'document ' || g || E' \u00ab\u00fcn\u00efcode\u00bb\ttab', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
  FROM generate_series(1, 1000) AS g;
INSERT INTO chunks (document_id, ord, body, embedding, raw, meta)
  SELECT g % 1000 + 1, g / 1000,
         md5(g::text) || E'\nline two with ''quotes'' and a \\ backslash',
         ARRAY[g::real / 3, -g::real, 0.5],
         decode(md5(g::text), 'hex'),
         jsonb_build_object('g', g, 'even', g % 2 = 0)
  FROM generate_series(1, 10000) AS g;
"""

FINGERPRINT = r"""
SELECT 'documents', count(*)::text, md5(coalesce(string_agg(d::text, '|' ORDER BY d.id), '')) FROM documents d
UNION ALL
SELECT 'chunks', count(*)::text, md5(coalesce(string_agg(c::text, '|' ORDER BY c.id), '')) FROM chunks c
UNION ALL
SELECT 'sequences', (SELECT last_value::text FROM documents_id_seq), (SELECT last_value::text FROM chunks_id_seq)
UNION ALL
SELECT 'indexes', count(*)::text, md5(string_agg(indexdef, '|' ORDER BY indexname)) FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraints', count(*)::text, md5(string_agg(conname || pg_get_constraintdef(oid), '|' ORDER BY conname))
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'views', count(*)::text, md5(coalesce(string_agg(viewname || definition, '|' ORDER BY viewname), ''))
  FROM pg_views WHERE schemaname = 'public';
"""


class Cluster:
    """A throwaway PostgreSQL cluster; raguser is its bootstrap superuser, as in the
    official image with POSTGRES_USER=raguser, local connections are trusted
    there as here, and TCP ones need the password (scram-sha-256)."""

    def __init__(self, base):
        self.dir = os.path.join(base, "pg")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.port = free_port()
        os.makedirs(self.sock)
        self.as_user = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            pw = pwd.getpwnam("postgres")
            for d in (self.dir, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *cmd):
        return subprocess.run(self.as_user + list(cmd), check=True, capture_output=True, text=True)

    def start(self, password):
        """Initialized as the image's entrypoint does on an empty volume: the
        bootstrap superuser gets `password` (initdb --pwfile, read by root)."""
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        os.chmod(pwfile, 0o600)
        if self.as_user:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run(f"{PGBIN}/initdb", "-D", self.data, f"--username={USER}", f"--pwfile={pwfile}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        os.remove(pwfile)
        self._run(f"{PGBIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w",
                  "-o", f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                        f"-c unix_socket_directories={self.sock} -c fsync=off", "start")

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self.as_user + [f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                           capture_output=True)

    def psql(self, sql, db=DATABASE):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGTZ"] = "UTC"
        r = subprocess.run([f"{PGBIN}/psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sock, "-p", str(self.port), "-U", USER, "-d", db],
                           input=sql, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r.stdout

    def fingerprint(self):
        rows = [line.split("\t") for line in self.psql(FINGERPRINT).splitlines()]
        return {name: (a, b) for name, a, b in rows}


class FakeQdrant:
    """Not Qdrant: an HTTP/1.0 server on 127.0.0.1 answering the endpoints the
    generated scripts call (list collections, create/delete a snapshot, recover
    from one), with a collection's "data" a byte string and a snapshot a copy of
    it, written under the snapshots volume (mode 0644, as Qdrant writes them)."""

    def __init__(self, snapshots):
        self.snapshots = snapshots
        self.collections = {}
        self.fail_snapshot = False
        self.calls = []
        self.serial = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def reply(self, code, obj):
                data = json.dumps(obj, separators=(",", ":")).encode()  # compact, as Qdrant writes it
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.calls.append((self.command, self.path))
                code, obj = fake.route(self.command, self.path, body)
                self.reply(code, obj)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def route(self, method, path, body):
        ok = lambda result: (200, {"result": result, "status": "ok", "time": 0.001})  # noqa: E731
        if method == "GET" and path == "/collections":
            return ok({"collections": [{"name": n} for n in sorted(self.collections)]})
        m = re.fullmatch(r"/collections/([A-Za-z0-9_-]+)/snapshots\?wait=true", path)
        if method == "POST" and m and m.group(1) in self.collections:
            if self.fail_snapshot:
                return 500, {"status": {"error": "Service internal error: No space left on device"}, "time": 0.0}
            self.serial += 1
            name = f"{m.group(1)}-{self.serial}.snapshot"
            os.makedirs(os.path.join(self.snapshots, m.group(1)), exist_ok=True)
            p = os.path.join(self.snapshots, m.group(1), name)
            with open(p, "wb") as f:
                f.write(self.collections[m.group(1)])
            os.chmod(p, 0o644)
            return ok({"name": name, "creation_time": "2026-01-01T00:00:00", "size": len(self.collections[m.group(1)])})
        m = re.fullmatch(r"/collections/([A-Za-z0-9_-]+)/snapshots/([A-Za-z0-9_.-]+)", path)
        if method == "DELETE" and m:
            p = os.path.join(self.snapshots, m.group(1), m.group(2))
            if not os.path.exists(p):
                return 404, {"status": {"error": "not found"}}
            os.remove(p)
            return ok(True)
        m = re.fullmatch(r"/collections/([A-Za-z0-9_-]+)/snapshots/recover\?wait=true", path)
        if method == "PUT" and m:
            location = json.loads(body)["location"]
            prefix = "file:///qdrant/snapshots/"
            if not location.startswith(prefix):
                return 400, {"status": {"error": f"bad location {location}"}}
            with open(os.path.join(self.snapshots, location[len(prefix):]), "rb") as f:
                self.collections[m.group(1)] = f.read()
            return ok(True)
        return 404, {"status": {"error": f"{method} {path}: no such endpoint"}}


def redis_cli(conf, *args):
    env = dict(os.environ, REDISCLI_AUTH=conf["password"])
    r = subprocess.run(["redis-cli", "-p", str(conf["port"]), "--no-raw"] + list(args), capture_output=True, text=True, env=env)
    return r.stdout.strip() if r.returncode == 0 else f"<redis-cli failed: {r.stderr.strip()}>"


def url_login(url, cluster, redis_conf):
    """"ok" if the URL's credentials log in to the test's store (its host and port
    turned into the test server's), else what went wrong."""
    u = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(u.password or "")
    if u.scheme == "redis":
        env = dict(os.environ, REDISCLI_AUTH=password)
        r = subprocess.run(["redis-cli", "-p", str(redis_conf["port"]), "-n", u.path.lstrip("/") or "0", "ping"],
                           capture_output=True, text=True, env=env)
        return "ok" if r.stdout.strip() == "PONG" else f"redis: {r.stdout.strip()} {r.stderr.strip()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = password  # not on the command line
    r = subprocess.run([f"{PGBIN}/psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.port),
                        "-U", urllib.parse.unquote(u.username or ""), "-d", u.path.lstrip("/"), "-c", "SELECT 1"],
                       capture_output=True, text=True, env=env)
    return "ok" if r.returncode == 0 and r.stdout.strip() == "1" else f"postgres: {r.stderr.strip()}"


KEYS_LUA = """
local out = {}
for _, key in ipairs(redis.call('KEYS', '*')) do
  table.insert(out, key)
  if redis.call('TYPE', key).ok == 'hash' then
    table.insert(out, table.concat(redis.call('HGETALL', key), ','))
  else
    table.insert(out, redis.call('GET', key))
  end
end
return out
"""


def redis_keys(conf):
    """Every key with its value (strings) or its fields (hashes), in one call."""
    lines = redis_cli(conf, "--raw", "EVAL", KEYS_LUA, "0").split("\n")
    if len(lines) == 1 and lines[0].startswith("<redis-cli failed"):
        return {lines[0]: ""}
    return dict(zip(lines[0::2], lines[1::2])) if lines != [""] else {}


def modes(root):
    """(path, mode) of every entry under root, root included."""
    out = [(".", stat.S_IMODE(os.stat(root).st_mode))]
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            out.append((os.path.relpath(p, root), stat.S_IMODE(os.lstat(p).st_mode)))
    return out


def digests(files):
    return {name: hashlib.sha256(data).hexdigest()[:16] for name, data in files.items()}


def files_of(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def tree(root):
    """Every path under root (except the lock file) with a hash of each file."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root) + "/"] = "dir"
        for name in files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if rel == ".backup.lock":
                continue
            with open(p, "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def dated(root):
    return sorted(n for n in os.listdir(root) if DATED.match(n) and os.path.isdir(os.path.join(root, n)))


def partials(root):
    return sorted(n for n in os.listdir(root) if n.startswith(".partial-"))


def stamp_of(dt):
    return dt.strftime("%Y%m%dT%H%M%SZ")


def age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def body(t):
    base = tempfile.mkdtemp(prefix="ragc-e2e-backup-")
    os.chmod(base, 0o755)  # the postgres user must reach its cluster dir
    cluster = Cluster(base)
    stores = {}  # name -> a function that stops it
    try:
        run_all(t, base, cluster, stores)
    finally:
        cluster.stop()
        for stop in stores.values():
            stop()
        if os.environ.get("RAGC_E2E_KEEP") == "1":
            print(f"     kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_all(t, base, cluster, stores):
    backup_sh = os.path.join(OUT, "backup", "backup.sh")
    restore_sh = os.path.join(OUT, "backup", "restore.sh")
    log_path = os.path.join(base, "calls.jsonl")
    s3 = os.path.join(base, "s3")
    os.mkdir(s3)

    def calls(since=0):
        if not os.path.exists(log_path):
            return []
        with open(log_path) as f:
            return [json.loads(line) for line in f][since:]

    # The other stores and the app's volume (see the module's docstring).
    redis_dir = os.path.join(base, "redis")
    redis_conf = {
        "kind": "redis",
        "port": free_port(),
        "data": os.path.join(redis_dir, "data"),
        "state": os.path.join(redis_dir, "state"),
        "pidfile": os.path.join(redis_dir, "state", "redis.pid"),
        # Added to the compose file's command by the stand-in: no 5 s wait for more
        # replicas before the snapshot redis-cli --rdb asks for (Redis 7's default),
        # to save time.
        "args": ["--repl-diskless-sync-delay", "0"],
    }
    qdrant = FakeQdrant(os.path.join(base, "qdrant", "snapshots"))
    os.makedirs(qdrant.snapshots)
    os.makedirs(os.path.join(base, "qdrant", "storage"))
    uploads = os.path.join(base, "uploads")
    services = {
        # A copy: the password the test reads below (for its own clients) is never the stand-in's.
        CACHE: dict(redis_conf),
        VECTORS: {"kind": "qdrant", "port": qdrant.port,
                  "mounts": {"/qdrant/snapshots": qdrant.snapshots, "/qdrant/storage": os.path.join(base, "qdrant", "storage")}},
        APP: {"kind": "app", "mounts": {"/app/uploads": uploads}},
    }

    def standin_env(deploy=OUT):
        return dict(
            STANDIN_DEPLOY_DIR=deploy,
            STANDIN_SERVICE=SERVICE,
            STANDIN_PGHOST=cluster.sock,
            STANDIN_PGPORT=str(cluster.port),
            STANDIN_PGBIN=PGBIN,
            STANDIN_SERVICES=json.dumps(services),
            STANDIN_LOG=log_path,
            STANDIN_S3_DIR=s3,
        )

    def script_env(root, path=None, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "STANDIN_", "BACKUP_", "KEEP_"))}
        env.update(
            PATH=path or os.path.join(HERE, "stand-ins") + os.pathsep + os.environ["PATH"],
            BACKUP_ROOT=root,
            **standin_env(),
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(script, args, root, stdin="", umask=None, path=None, **extra):
        preexec = (lambda: os.umask(umask)) if umask is not None else None
        return subprocess.run([script] + args, env=script_env(root, path, **extra), input=stdin,
                              capture_output=True, text=True, timeout=300, preexec_fn=preexec)

    def compose(*args):
        """The stand-in, as the scripts call it (to start and stop the Redis server)."""
        return subprocess.run([os.path.join(HERE, "stand-ins", "docker"), "compose", "--project-directory", OUT,
                               "--env-file", os.path.join(OUT, ".env.production"), "-f", os.path.join(OUT, "compose.yaml"),
                               "-f", os.path.join(OUT, "compose.production.yaml")] + list(args),
                              env=script_env(os.path.join(base, "unused")), capture_output=True, text=True, timeout=60)

    def show(r):
        return f"exit {r.returncode}; stderr: {r.stderr.strip()[-800:]}"

    if os.geteuid() != 0:
        t.check("the suite runs as root (the redis user, setpriv, the cron run's mount namespace)", False,
                f"euid {os.geteuid()}")
        return
    # ------------------------------------------------ the secrets, as files ----
    # What Compose mounts under /run/secrets: the production files `ragc compile`
    # wrote into secrets/ from .env.production (tests/e2e/run fills in the
    # required values first, as the operator does, and compiles again).
    try:
        project = production_project()
        wanted = {name: STANDIN.secret_mounts(project, name) for name in project.get("services") or {}}
    except STANDIN.ProjectError as e:
        t.check("the stand-in reads the production project", False, str(e))
        return
    missing = sorted({host for mounts in wanted.values() for host, _ in mounts if not os.path.isfile(host)})
    t.check("every secret file the production project mounts exists (`ragc compile` wrote them)",
            missing == [] and any(wanted.values()), missing or wanted)
    secrets_dir = os.path.join(OUT, "secrets")
    t.eq("... in secrets/, mode 0700", oct(stat.S_IMODE(os.stat(secrets_dir).st_mode)) if os.path.isdir(secrets_dir) else None,
         "0o700")
    # The cache's password is the `requirepass` of the config file its command names.
    cache_cmd = STANDIN.command(project, CACHE)
    config = mounted(project, CACHE, cache_cmd[1]) if len(cache_cmd) > 1 else None
    m = re.fullmatch(r"requirepass (\S+)\n?", read_text(config)) if config and os.path.isfile(config) else None
    if not t.check("the cache runs `redis-server CONFIG`, CONFIG a secret file whose one line is `requirepass PASSWORD`",
                   m is not None, (cache_cmd, config)):
        return
    redis_conf["password"] = m.group(1)
    # The db's password is what the image's entrypoint reads: POSTGRES_PASSWORD_FILE
    # (a file mounted in the container), or POSTGRES_PASSWORD.
    db_env = STANDIN.environment(project, SERVICE)
    db_file = mounted(project, SERVICE, db_env["POSTGRES_PASSWORD_FILE"]) if "POSTGRES_PASSWORD_FILE" in db_env else None
    db_password = read_text(db_file).rstrip("\n") if db_file and os.path.isfile(db_file) else db_env.get("POSTGRES_PASSWORD")
    if not t.check("the db's password is given as the image reads it (POSTGRES_PASSWORD_FILE, the secret file "
                   "mounted there, or POSTGRES_PASSWORD)", bool(db_password), (db_env, db_file)):
        return

    redis_user = pwd.getpwnam("redis")
    for d in (redis_dir, redis_conf["data"], redis_conf["state"]):
        os.makedirs(d, exist_ok=True)
        os.chown(d, redis_user.pw_uid, redis_user.pw_gid)
        os.chmod(d, 0o755)  # like the official image's /data: the redis user's, not root's
    r = compose("start", CACHE)
    if not t.check("the Redis 7 server starts as the redis user", r.returncode == 0, r.stderr[-500:]):
        return
    stores["redis"] = lambda: compose("stop", CACHE)

    cluster.start(db_password)
    cluster.psql(f"CREATE DATABASE {DATABASE};", db="postgres")
    cluster.psql(SEED)
    original = cluster.fingerprint()
    t.note(f"PostgreSQL {cluster.psql('SHOW server_version;').strip()} on 127.0.0.1:{cluster.port}; "
           f"seeded: {original['documents'][0]} documents, {original['chunks'][0]} chunks")
    t.eq("seed data: 10000 chunk rows", original["chunks"][0], "10000")

    # The stores hold the passwords their secret files gave them; the apps' own
    # secret files (DATABASE_URL, REDIS_URL, read by the images' ragc-env) log in with them.
    r = subprocess.run(["redis-cli", "-p", str(redis_conf["port"]), "ping"], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"})
    t.check("Redis refuses a client without the password (the `requirepass` of its config file)",
            "NOAUTH" in r.stdout + r.stderr, (r.stdout, r.stderr))
    logins = {}
    for name, mounts in sorted(wanted.items()):
        for host, inside in mounts:
            url = read_text(host) if os.path.isfile(host) else ""
            if url.startswith(("postgresql://", "postgres://", "redis://")):
                logins[f"{name}:{inside}"] = url_login(url, cluster, redis_conf)
    t.check("every app's DATABASE_URL and REDIS_URL secret file logs in to the live store",
            logins and all(ok == "ok" for ok in logins.values()), logins)

    # ------------------------------------------------------------------ backup ----
    root = os.path.join(base, "backups root")  # a space in the path, on purpose
    n0 = len(calls())
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    r = run(backup_sh, [SERVICE], root)
    after = datetime.datetime.now(datetime.timezone.utc)
    t.check("backup.sh db exits 0", r.returncode == 0, show(r))
    first = dated(root)
    if not t.eq("backup.sh db writes exactly one dated folder", len(first), 1):
        return
    first = first[0]
    t.check("the folder is named for the UTC time of the run",
            stamp_of(before) <= first <= stamp_of(after), (stamp_of(before), first, stamp_of(after)))
    dump = os.path.join(root, first, SERVICE, "database.dump")
    with open(dump, "rb") as f:
        head = f.read(5)
    t.eq("db/database.dump is a pg_dump custom-format archive", head, b"PGDMP")
    listing = subprocess.run([f"{PGBIN}/pg_restore", "--list", dump], capture_output=True, text=True)
    t.check("pg_restore --list reads the dump; it holds both tables' data",
            listing.returncode == 0 and "TABLE DATA public documents" in listing.stdout
            and "TABLE DATA public chunks" in listing.stdout, listing.stderr[-300:])
    t.eq("the backup is private: folder 0700, dump 0600 (umask 077)",
         (oct(os.stat(os.path.join(root, first)).st_mode & 0o777), oct(os.stat(dump).st_mode & 0o777)),
         ("0o700", "0o600"))
    t.eq("no .partial-* folder is left", partials(root), [])
    c = calls(n0)
    want = ["compose", "--project-directory", OUT, "--env-file", os.path.join(OUT, ".env.production"),
            "-f", os.path.join(OUT, "compose.yaml"), "-f", os.path.join(OUT, "compose.production.yaml"),
            "exec", "-T", SERVICE, "pg_dump", f"--username={USER}", f"--dbname={DATABASE}", "--format=custom"]
    t.eq("the dump runs through `docker compose exec -T db pg_dump` of the production project",
         [x["argv"] for x in c if x["argv"][0] != "aws"], [want])
    offsite = re.search(r'aws s3 sync .* (s3://\S+?)"?/\$stamp"?', open(backup_sh).read())
    if offsite:
        dest = offsite.group(1) + "/" + first
        t.eq("aws and its credentials are checked first (aws sts get-caller-identity), then the finished "
             "folder is synced offsite (aws s3 sync)",
             [x["argv"] for x in c if x["argv"][0] == "aws"],
             [["aws", "sts", "get-caller-identity"], ["aws", "s3", "sync", "--only-show-errors", os.path.join(root, first), dest]])
        t.check("... the credentials are checked before anything is dumped",
                [x["argv"][:3] for x in c][:1] == [["aws", "sts", "get-caller-identity"]], [x["argv"][:3] for x in c])
        copy = os.path.join(s3, dest[len("s3://"):], SERVICE, "database.dump")
        t.check("the offsite copy is the same dump", os.path.exists(copy) and open(copy, "rb").read() == open(dump, "rb").read(),
                copy)

    # ----------------------------------------------------------------- restore ----
    # 1. The volume was lost: the container starts on an empty database.
    cluster.psql(f"DROP DATABASE {DATABASE} WITH (FORCE); CREATE DATABASE {DATABASE};", db="postgres")
    t.eq("after dropping the database it is empty", cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public';").strip(), "0")
    n0 = len(calls())
    r = run(restore_sh, [os.path.join(root, first), SERVICE], root, RESTORE_CONFIRM="yes")
    t.check("restore.sh DIR db into an empty database exits 0", r.returncode == 0, show(r))
    got = cluster.fingerprint()
    t.eq("every row is back after restoring into an empty database (count and md5 per table)",
         (got["documents"], got["chunks"]), (original["documents"], original["chunks"]))
    t.eq("sequences, indexes, constraints and views are back too",
         {k: got[k] for k in ("sequences", "indexes", "constraints", "views")},
         {k: original[k] for k in ("sequences", "indexes", "constraints", "views")})
    t.eq("the restore runs `pg_restore --clean --if-exists --no-owner --single-transaction` in the db service",
         [x["argv"][9:] for x in calls(n0)],
         [["exec", "-T", SERVICE, "pg_restore", f"--username={USER}", f"--dbname={DATABASE}", "--clean",
           "--if-exists", "--no-owner", "--single-transaction"]])

    # 2. The data was damaged: rows deleted and changed, a table dropped, a sequence moved.
    cluster.psql("DELETE FROM chunks WHERE id % 2 = 0; UPDATE documents SET title = 'x' WHERE id <= 10;"
                 "INSERT INTO documents (title, created_at) VALUES ('intruder', now());"
                 "DROP VIEW chunk_counts; SELECT setval('chunks_id_seq', 99999);")
    damaged = cluster.fingerprint()
    t.check("the damage is visible in the fingerprint", damaged != original, "")
    r = run(restore_sh, [os.path.join(root, first)], root, RESTORE_CONFIRM="yes")
    t.check("restore.sh DIR (services found in DIR) over damaged data exits 0", r.returncode == 0, show(r))
    t.eq("every row, sequence and view is back after restoring over damaged data", cluster.fingerprint(), original)

    # 3. Without confirmation nothing is touched.
    cluster.psql("DELETE FROM chunks WHERE id > 5000;")
    damaged = cluster.fingerprint()
    n0 = len(calls())
    r = run(restore_sh, [os.path.join(root, first), SERVICE], root, stdin="n\n")
    t.eq("restore.sh answered `n` exits 1", r.returncode, 1)
    t.check("... and runs no pg_restore; the data stays as it was",
            calls(n0) == [] and cluster.fingerprint() == damaged, show(r))
    r = run(restore_sh, [os.path.join(root, first), SERVICE], root, stdin="y\n")
    t.check("restore.sh answered `y` restores", r.returncode == 0 and cluster.fingerprint() == original, show(r))
    r = run(restore_sh, [os.path.join(base, "no-such-backup"), SERVICE], root, RESTORE_CONFIRM="yes")
    t.eq("restore.sh of a missing folder exits 66", r.returncode, 66)

    # --------------------------------------------------------- failing dump ----
    old = os.path.join(root, "20200101T020000Z")  # an expired backup: a failed run must not delete it
    os.makedirs(os.path.join(old, SERVICE))
    with open(os.path.join(old, SERVICE, "database.dump"), "wb") as f:
        f.write(b"PGDMP old")
    age(os.path.join(old, SERVICE), 30 * 86400)
    age(old, 30 * 86400)
    for label, args, extra in (
        ("pg_dump cut off mid-stream (stand-in)", [SERVICE], {"STANDIN_FAIL": "pg_dump"}),
        ("database unreachable (real pg_dump error)", [SERVICE], {"STANDIN_PGPORT": free_port()}),
        ("db dumped, then an unknown service", [SERVICE, "no-such-service"], {}),
    ):
        snap = tree(root)
        n0 = len(calls())
        r = run(backup_sh, args, root, **extra)
        t.check(f"failing backup, {label}: exits non-zero", r.returncode != 0, show(r))
        t.eq(f"failing backup, {label}: no new folder, no .partial-*, previous backups byte-identical, "
             f"expired ones not deleted", tree(root), snap)
        t.eq(f"failing backup, {label}: nothing is synced offsite",
             [x for x in calls(n0) if x["argv"][:3] == ["aws", "s3", "sync"]], [])
        if "real" in label:
            t.check("... pg_dump's own error reaches the log", "pg_dump" in r.stderr, show(r))

    # ------------------------------------------------------------- retention ----
    for bad in ("0", "abc", "7d", "1+1"):
        snap = tree(root)
        n0 = len(calls())
        r = run(backup_sh, [SERVICE], root, KEEP_DAYS=bad)
        t.check(f"KEEP_DAYS={bad} is refused (exit 64) before anything is dumped, written or deleted",
                r.returncode == 64 and tree(root) == snap and calls(n0) == [], show(r))

    def retention(root_arg, real_root, keep, also_gone=()):
        days = 86400
        layout = {
            # name: (age in seconds, is_dir, expected to survive)
            "20200201T020000Z": (10 * days, True, False),
            "20200202T020000Z": (7 * days + 3600, True, False),     # just past the limit
            "20200203T020000Z": (7 * days - 3600, True, True),      # just inside it
            "20200204T020000Z": (2 * days, True, True),
            "manual-copy": (90 * days, True, True),                 # not a dated name
            "2020-02-05": (90 * days, True, True),
            "20200206T020000Z.old": (90 * days, True, True),
            "20200207T020000": (90 * days, True, True),             # no Z
            "pre-upgrade-20200211T020000Z": (90 * days, True, True),  # ends like a dated name
            "20200208T020000Z-file": (90 * days, False, True),
            "20200209T020000Z": (90 * days, False, True),           # a file with a dated name
            "notes.txt": (90 * days, False, True),
        }
        os.makedirs(real_root, exist_ok=True)
        for name, (secs, is_dir, _) in layout.items():
            p = os.path.join(real_root, name)
            if is_dir:
                os.makedirs(os.path.join(p, SERVICE))
                open(os.path.join(p, SERVICE, "database.dump"), "wb").close()
                age(os.path.join(p, SERVICE), secs)
            else:
                open(p, "w").close()
            age(p, secs)
        nested = os.path.join(real_root, "manual-copy", "20200210T020000Z")  # dated, but not directly under the root
        os.makedirs(nested)
        age(nested, 90 * days)
        age(os.path.join(real_root, "manual-copy"), 90 * days)
        age(real_root, 90 * days)  # the root itself is old too
        existing = set(os.listdir(real_root))
        extra = {} if keep is None else {"KEEP_DAYS": keep}
        r = run(backup_sh, [SERVICE], root_arg, **extra)
        label = f"retention (KEEP_DAYS={'default' if keep is None else keep}"
        label += ", root is a symlink)" if root_arg != real_root else ")"
        t.check(f"{label}: the backup run exits 0", r.returncode == 0, show(r))
        now = set(os.listdir(real_root)) if os.path.isdir(real_root) else set()
        gone = existing - now
        new = now - existing
        t.eq(f"{label}: removes exactly the dated folders older than 7 days",
             sorted(gone), sorted([n for n, (_, _, keep_it) in layout.items() if not keep_it] + list(also_gone)))
        t.check(f"{label}: the root, other files and folders, and the new backup stay",
                os.path.isdir(real_root) and os.path.isdir(nested) and len([n for n in new if DATED.match(n)]) == 1
                and all(n in now for n, (_, _, keep_it) in layout.items() if keep_it),
                (sorted(new), sorted(now)))

    retention(root, root, 7, also_gone=[os.path.basename(old)])
    real = os.path.join(base, "disk2", "rag-engine backups")
    link = os.path.join(base, "linked root")
    os.makedirs(os.path.dirname(real))
    os.makedirs(real)
    os.symlink(real, link)
    retention(link, real, None)
    t.check("retention through a symlinked root leaves the symlink in place", os.path.islink(link), link)

    # -------------------------------------------------------------- overlap ----
    snap = tree(root)
    n0 = len(calls())
    held = os.open(root, os.O_RDONLY | os.O_DIRECTORY)  # the lock is the root directory itself
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = run(backup_sh, [SERVICE], root)
    finally:
        os.close(held)
    t.eq("while another run holds the lock, backup.sh exits 75", r.returncode, 75)
    t.check("... and writes nothing, dumps nothing",
            tree(root) == snap and [x for x in calls(n0) if x["argv"][0] != "aws"] == [], show(r))

    snap_dated = set(dated(root))
    n0 = len(calls())
    env = script_env(root, STANDIN_SLEEP=3)
    slow = subprocess.Popen([backup_sh, SERVICE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not calls(n0) and time.monotonic() < deadline and slow.poll() is None:
        time.sleep(0.05)
    t0 = time.monotonic()
    r = run(backup_sh, [SERVICE], root)
    took = time.monotonic() - t0
    slow_out, slow_err = slow.communicate(timeout=120)
    t.check("two overlapping runs: the second exits 75 at once", r.returncode == 75 and took < 2.5,
            f"{show(r)}; took {took:.1f}s")
    t.eq("two overlapping runs: the first completes", slow.returncode, 0)
    new = sorted(set(dated(root)) - snap_dated)
    t.eq("two overlapping runs: exactly one new dated folder", len(new), 1)
    t.eq("two overlapping runs: exactly one pg_dump ran",
         len([x for x in calls(n0) if "pg_dump" in x["argv"]]), 1)
    if new:
        with open(os.path.join(root, new[0], SERVICE, "database.dump"), "rb") as f:
            t.eq("two overlapping runs: the first run's dump is complete", f.read(5), b"PGDMP")

    # ---------------------------------------------- a dated name is never reused ----
    # Two runs within one second get the same name. Take every name the next run can
    # pick (this second and the next ones) with a finished backup of our own.
    now = time.time()
    taken = [stamp_of(datetime.datetime.fromtimestamp(int(now) + d, datetime.timezone.utc)) for d in range(-1, 3)]
    for name in taken:
        os.makedirs(os.path.join(root, name, SERVICE), exist_ok=True)
        with open(os.path.join(root, name, SERVICE, "database.dump"), "wb") as f:
            f.write(b"PGDMP earlier run " + name.encode())
    snap = {n: v for n, v in tree(root).items() if n.split("/")[0] in taken}
    before_dated = set(dated(root))
    r = run(backup_sh, [SERVICE], root)
    t.check("a run whose timestamp is taken exits 0", r.returncode == 0, show(r))
    t.eq("... and leaves the earlier backups with that name untouched",
         {n: v for n, v in tree(root).items() if n.split("/")[0] in taken}, snap)
    new = sorted(set(dated(root)) - before_dated)
    t.check("... and writes its own new dated folder with a complete dump",
            len(new) == 1 and os.path.isfile(os.path.join(root, new[0] if new else "-", SERVICE, "database.dump")), new)

    # ============================================== every store, every volume ====
    # The flagship's four backed-up services and its secrets file, in one run.
    os.makedirs(os.path.join(uploads, "2026", "01"))
    upload_files = {
        "2026/01/report.pdf": os.urandom(200_000),
        "2026/01/notes with spaces.txt": "Grüße\nline two\n".encode(),
        "avatar.png": b"\x89PNG\r\n\x1a\n" + os.urandom(5000),
    }
    for rel, data in upload_files.items():
        with open(os.path.join(uploads, rel), "wb") as f:
            f.write(data)
    qdrant.collections = {"documents": os.urandom(3000), "faq": b"faq vectors " * 10}
    seed = "".join(f'SET session:{i} "value {i} \u00e9"\n' for i in range(200)) + "HSET user:1 name Ada plan pro\n"
    subprocess.run(["redis-cli", "-p", str(redis_conf["port"])], input=seed, capture_output=True, text=True, check=True,
                   env=dict(os.environ, REDISCLI_AUTH=redis_conf["password"]))
    redis_keys_before = redis_keys(redis_conf)
    t.eq("Redis holds the 201 seeded keys", len(redis_keys_before), 201)
    with open(os.path.join(OUT, ".env.production"), "rb") as f:
        secrets_before = f.read()
    cache_cmd = compose_command(CACHE)
    t.check("the compose file runs the cache with --appendonly yes (the case the restore must load)",
            ["--appendonly", "yes"] in [cache_cmd[i:i + 2] for i in range(len(cache_cmd))], cache_cmd)
    t.eq("... and Redis reports AOF on", redis_cli(redis_conf, "--raw", "CONFIG", "GET", "appendonly").split("\n"),
         ["appendonly", "yes"])

    full = os.path.join(base, "full backups")
    n0 = len(calls())
    r = run(backup_sh, [], full, umask=0)
    t.check("backup.sh (every service) under umask 000 exits 0", r.returncode == 0, show(r))
    got = dated(full)
    if not t.eq("... and writes one dated folder", len(got), 1):
        return
    full_dir = os.path.join(full, got[0])
    t.eq("it holds a folder per backed-up service and the secrets", sorted(os.listdir(full_dir)),
         sorted([SERVICE, CACHE, VECTORS, APP, "_secrets"]))
    bad = [(p, oct(m)) for p, m in modes(full_dir)
           if m != (0o700 if os.path.isdir(os.path.join(full_dir, p)) else 0o600)]
    t.eq("under umask 000, every folder of the backup is 0700 and every file 0600 (Qdrant's snapshots "
         "come out of `docker cp` 0644)", bad, [])
    with open(os.path.join(full_dir, CACHE, "dump.rdb"), "rb") as f:
        t.eq("cache/dump.rdb is a Redis snapshot", f.read(5), b"REDIS")
    t.eq("vectors/ holds one snapshot per collection, each the collection's data",
         digests(files_of(os.path.join(full_dir, VECTORS))),
         digests({f"{name}.snapshot": data for name, data in qdrant.collections.items()}))
    t.eq("... and Qdrant's snapshots are deleted from its volume afterwards",
         [f for f in files_of(qdrant.snapshots)], [])
    archived = {}
    if os.path.isfile(os.path.join(full_dir, APP, "uploads.tar")):
        with tarfile.open(os.path.join(full_dir, APP, "uploads.tar")) as tar:
            archived = {os.path.normpath(m.name): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    t.eq("api/uploads.tar holds every file of the app's `uploads` volume, byte for byte",
         digests(archived), digests(upload_files))
    copy = os.path.join(full_dir, "_secrets", "env.production")
    t.check("_secrets/env.production is the deploy directory's .env.production",
            os.path.isfile(copy) and open(copy, "rb").read() == secrets_before, sorted(os.listdir(full_dir)))
    deployed = os.path.join(OUT, "secrets")
    files_copy = os.path.join(full_dir, "_secrets", "files")
    t.eq("_secrets/files holds every secret file the containers mount, byte for byte",
         {n: open(os.path.join(files_copy, n), "rb").read() for n in sorted(os.listdir(files_copy))} if os.path.isdir(files_copy) else None,
         {n: open(os.path.join(deployed, n), "rb").read() for n in sorted(os.listdir(deployed))})
    t.check("the volume is read through `compose exec -T api tar` of the production project",
            ["exec", "-T", APP, "tar", "-C", "/app/uploads", "-cf", "-", "."] in [x["argv"][9:] for x in calls(n0)],
            [x["argv"][9:] for x in calls(n0)])

    # ------------------------------------------------------ Redis restore ----
    redis_cli(redis_conf, "FLUSHALL")
    redis_cli(redis_conf, "SET", "intruder", "1")
    r = run(restore_sh, [full_dir, CACHE], full, RESTORE_CONFIRM="yes")
    t.check("restore.sh DIR cache exits 0", r.returncode == 0, show(r))
    t.eq("every Redis key and value is back (with appendonly yes), and the key set after the backup is gone",
         redis_keys(redis_conf), redis_keys_before)
    aof = os.path.join(redis_conf["data"], "appendonlydir")
    owners = {pwd.getpwuid(os.lstat(os.path.join(d, n)).st_uid).pw_name
              for d, ds, fs in os.walk(redis_conf["data"]) for n in ds + fs}
    t.eq("the restored files are the redis user's (the restore ran as redis)", owners, {"redis"})
    r = compose("stop", CACHE)
    r2 = compose("start", CACHE)
    t.check("after the restore, Redis restarts", r.returncode == 0 and r2.returncode == 0, r2.stderr[-500:])
    t.eq("... and loads the restored data from its append-only files", redis_keys(redis_conf), redis_keys_before)
    t.check("... which it keeps in appendonlydir/ under a manifest",
            os.path.isfile(os.path.join(aof, "appendonly.aof.manifest")), sorted(os.listdir(redis_conf["data"])))

    # A restore that fails after the store was stopped starts it again.
    redis_cli(redis_conf, "SET", "after-restore", "kept")
    current = redis_keys(redis_conf)
    r = run(restore_sh, [full_dir, CACHE], full, RESTORE_CONFIRM="yes", STANDIN_FAIL="run-stopped")
    t.check("a Redis restore that fails once the store is stopped (stand-in) exits non-zero and names cache",
            r.returncode != 0 and "cache" in r.stderr, show(r))
    t.eq("... and Redis is running again afterwards, its data as it was", redis_keys(redis_conf), current)
    corrupt = os.path.join(base, "corrupt backup")
    shutil.copytree(full_dir, corrupt)
    with open(os.path.join(corrupt, CACHE, "dump.rdb"), "r+b") as f:
        f.seek(9)
        f.write(b"\xff" * 64)
    n0 = len(calls())
    r = run(restore_sh, [corrupt, CACHE], full, RESTORE_CONFIRM="yes")
    t.check("a Redis snapshot that doesn't load is refused (exit 1, says so)",
            r.returncode == 1 and "does not load" in r.stderr, show(r))
    t.check("... before the store is stopped: Redis still serves its data",
            redis_keys(redis_conf) == current and not any(x["argv"][8:10] == ["stop", CACHE] for x in calls(n0)),
            show(r))

    # ------------------------------------------- Qdrant, volume, secrets restore ----
    saved = dict(qdrant.collections)
    qdrant.collections = {"documents": b"damaged"}
    r = run(restore_sh, [full_dir, VECTORS], full, RESTORE_CONFIRM="yes")
    t.check("restore.sh DIR vectors exits 0", r.returncode == 0, show(r))
    t.eq("every Qdrant collection is recovered from its snapshot", digests(qdrant.collections), digests(saved))

    os.remove(os.path.join(uploads, "avatar.png"))
    with open(os.path.join(uploads, "2026", "01", "report.pdf"), "wb") as f:
        f.write(b"truncated")
    with open(os.path.join(uploads, "stray.tmp"), "wb") as f:
        f.write(b"written after the backup")
    r = run(restore_sh, [full_dir, APP], full, RESTORE_CONFIRM="yes")
    t.check("restore.sh DIR api exits 0", r.returncode == 0, show(r))
    t.eq("the uploads volume is back as it was backed up (and the file written since is gone)",
         digests(files_of(uploads)), digests(upload_files))

    env_path = os.path.join(OUT, ".env.production")
    with open(env_path, "ab") as f:
        f.write(b"EDITED_AFTER_THE_BACKUP=1\n")
    os.chmod(env_path, 0o644)
    tampered = open(env_path, "rb").read()
    secret_file = os.path.join(OUT, "secrets", "db.password")
    secret_value = open(secret_file, "rb").read()
    os.remove(secret_file)
    r = run(restore_sh, [full_dir, "_secrets"], full, RESTORE_CONFIRM="yes", umask=0)
    t.check("restore.sh DIR _secrets exits 0", r.returncode == 0, show(r))
    t.eq(".env.production is back, mode 0600 (under umask 000)",
         (open(env_path, "rb").read() == secrets_before, oct(stat.S_IMODE(os.stat(env_path).st_mode))), (True, "0o600"))
    t.eq("... and the secret files with it: a lost one is back, 0644 in the 0700 secrets/",
         (os.path.isfile(secret_file) and open(secret_file, "rb").read() == secret_value,
          oct(stat.S_IMODE(os.stat(secret_file).st_mode)) if os.path.exists(secret_file) else None,
          oct(stat.S_IMODE(os.stat(os.path.dirname(secret_file)).st_mode))),
         (True, "0o644", "0o700"))
    kept = [n for n in os.listdir(full) if n.startswith("env.production.replaced-")]
    t.check("... and the replaced one, which differed, is kept in the backup root, 0600",
            len(kept) == 1 and open(os.path.join(full, kept[0]), "rb").read() == tampered
            and stat.S_IMODE(os.stat(os.path.join(full, kept[0])).st_mode) == 0o600, kept)
    with open(env_path, "wb") as f:
        f.write(secrets_before)
    os.chmod(env_path, 0o600)

    # ------------------------------------------------ an empty Qdrant ----
    qdrant.collections = {}
    before_dated = set(dated(full))
    r = run(backup_sh, [VECTORS], full)
    t.check("backup.sh vectors of a Qdrant with no collection (a fresh stack) exits 0", r.returncode == 0, show(r))
    new = sorted(set(dated(full)) - before_dated)
    t.check("... and writes an empty, complete backup of it",
            len(new) == 1 and os.listdir(os.path.join(full, new[0], VECTORS)) == [], new)
    qdrant.collections = saved

    # -------------------------------------- one failing store keeps the others ----
    qdrant.fail_snapshot = True
    before_dated = set(dated(full))
    r = run(backup_sh, [], full)
    qdrant.fail_snapshot = False
    t.eq("a run whose Qdrant snapshot fails exits 1", r.returncode, 1)
    t.check("... and says that vectors failed", re.search(r"vectors FAILED", r.stderr) is not None, show(r))
    new = sorted(set(dated(full)) - before_dated)
    t.check("... and still writes the other services' backups",
            len(new) == 1 and sorted(os.listdir(os.path.join(full, new[0]))) == sorted([SERVICE, CACHE, APP, "_secrets"]),
            [sorted(os.listdir(os.path.join(full, n))) for n in new])
    if new:
        listing = subprocess.run([f"{PGBIN}/pg_restore", "--list", os.path.join(full, new[0], SERVICE, "database.dump")],
                                 capture_output=True, text=True)
        t.check("... whose PostgreSQL dump is complete", listing.returncode == 0 and "TABLE DATA public chunks" in listing.stdout,
                listing.stderr[-300:])
    t.eq("... and leaves no .partial-* folder", partials(full), [])

    # ------------------------------------------------- offsite preflight ----
    offsite = re.search(r'aws s3 sync .* (s3://\S+?)"?/\$stamp"?', open(backup_sh).read())
    if offsite:
        no_aws = os.path.join(base, "bin-without-aws")
        os.mkdir(no_aws)
        os.symlink(os.path.join(HERE, "stand-ins", "docker"), os.path.join(no_aws, "docker"))
        path = os.pathsep.join([no_aws] + [d for d in os.environ["PATH"].split(os.pathsep)
                                            if d and not os.path.exists(os.path.join(d, "aws"))])
        for label, extra in (("no aws on PATH", {"path": path}), ("aws without credentials", {"STANDIN_AWS_NO_CREDS": "1"})):
            snap = tree(full)
            n0 = len(calls())
            r = run(backup_sh, [], full, **extra)
            t.eq(f"offsite set, {label}: backup.sh exits 69", r.returncode, 69)
            t.check(f"offsite set, {label}: before anything is dumped or written (no dated folder)",
                    tree(full) == snap and not [x for x in calls(n0) if x["argv"][0] != "aws"], show(r))
        expired = os.path.join(full, "20200301T020000Z")
        os.makedirs(os.path.join(expired, SERVICE))
        age(os.path.join(expired, SERVICE), 30 * 86400)
        age(expired, 30 * 86400)
        before_dated = set(dated(full))
        r = run(backup_sh, [SERVICE], full, STANDIN_AWS_FAIL_SYNC="1")
        t.eq("offsite sync fails: backup.sh exits 1", r.returncode, 1)
        t.check("... and says the offsite copy failed", "offsite copy FAILED" in r.stderr, show(r))
        new = sorted(set(dated(full)) - before_dated - {"20200301T020000Z"})
        t.check("... the local backup stays, complete (as the header says)",
                len(new) == 1 and os.path.isfile(os.path.join(full, new[0], SERVICE, "database.dump")), new)
        t.check("... and retention still ran: the expired backup is gone", not os.path.exists(expired), sorted(os.listdir(full)))

    # --------------------------------------------- a planted lock symlink ----
    victim = os.path.join(base, "victim")
    with open(victim, "w") as f:
        f.write("precious, root-owned\n")
    if os.path.lexists(os.path.join(full, ".backup.lock")):
        os.remove(os.path.join(full, ".backup.lock"))  # an older script's lock file
    os.symlink(victim, os.path.join(full, ".backup.lock"))
    r = run(backup_sh, [SERVICE], full)
    t.check("with .backup.lock planted as a symlink, backup.sh still runs", r.returncode == 0, show(r))
    t.eq("... and the symlink's target is untouched", open(victim).read(), "precious, root-owned\n")
    os.remove(os.path.join(full, ".backup.lock"))

    # ----------------------------------------- the crontab line, verbatim ----
    cron_check(t, base, standin_env)

    # ----------------------------------------- no secret on a command line ----
    # Every docker call of every script above (and the cron run's), as logged.
    values = {v for v in STANDIN.read_env_file(os.path.join(OUT, ".env.production")).values() if len(v) >= 8}
    shown = sorted({f"call {i}" for i, x in enumerate(calls()) for v in values if any(v in a for a in x["argv"])})
    t.check("no docker call of the scripts has a value of .env.production on its command line",
            values and len(calls()) > 0 and shown == [], shown[:5] or "no values or no calls")


def cron_check(t, base, standin_env):
    """Runs the crontab's line as cron would: the project copied to where the
    stack's `path` says it is cloned (/opt/STACK, the default), /bin/sh -c LINE
    with cron's environment (HOME, LOGNAME, SHELL, PATH=/usr/bin:/bin) and the
    crontab's own assignments, in a private mount namespace where /opt,
    /usr/local/bin (the stand-ins), /var/backups and /var/log are test folders."""
    with open(os.path.join(OUT, "backup", "crontab")) as f:
        crontab = f.read()
    stack = re.search(r"Backup schedule of stack `([^`]+)`", crontab)
    if not t.check("the crontab names its stack", stack is not None, crontab[:300]):
        return
    stack = stack.group(1)
    assignments, entries = crontab_parts(crontab)
    if not t.eq("the crontab has one schedule line (all the flagship's services back up at 02:00)", len(entries), 1):
        return
    fields = entries[0].split(None, 6)
    t.eq("the line runs as root", fields[5], "root")
    command = fields[6]
    t.check("the command has no unescaped % (cron would turn it into a newline)",
            re.search(r"(?<!\\)%", command) is None, command)
    command = command.replace("\\%", "%")

    host = os.path.join(base, "host")
    project = os.path.dirname(OUT)
    clone = os.path.join(host, "opt", stack)
    shutil.copytree(project, clone, symlinks=True)
    bindir = os.path.join(host, "usr-local-bin")
    os.makedirs(bindir)
    for tool in ("docker", "aws"):
        shutil.copy2(os.path.join(HERE, "stand-ins", tool), os.path.join(bindir, tool))
    with open(os.path.join(bindir, "standin-env.json"), "w") as f:
        json.dump(standin_env(deploy=os.path.join("/opt", stack, os.path.basename(OUT))), f)
    backups = os.path.join(host, "var-backups")
    logs = os.path.join(host, "var-log")
    os.makedirs(backups)
    os.makedirs(logs)

    mount = ('mount --bind "$1" /opt && mount --bind "$2" /usr/local/bin && mount --bind "$3" /var/backups '
             '&& mount --bind "$4" /var/log && shift 4 && exec env -i "$@"')
    cron_env = {"HOME": "/root", "LOGNAME": "root", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
    cron_env.update(assignments)
    shells = ["/bin/sh"] + ([assignments["SHELL"]] if assignments.get("SHELL", "/bin/sh") != "/bin/sh" else [])
    for shell in shells:
        before = set(os.listdir(os.path.join(backups, stack))) if os.path.isdir(os.path.join(backups, stack)) else set()
        argv = (["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", mount, "sh",
                 os.path.join(host, "opt"), bindir, backups, logs]
                + [f"{k}={v}" for k, v in cron_env.items()] + [shell, "-c", command])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd="/")
        t.check(f"the cron line, run verbatim by {shell} with cron's environment, exits 0",
                r.returncode == 0, f"exit {r.returncode}; {r.stderr[-600:]}; log: "
                + (open(os.path.join(logs, f"{stack}-backup.log")).read()[-600:]
                   if os.path.exists(os.path.join(logs, f"{stack}-backup.log")) else "(no log)"))
        root = os.path.join(backups, stack)
        new = sorted(set(os.listdir(root)) - before) if os.path.isdir(root) else []
        new = [n for n in new if DATED.match(n)]
        t.check(f"... and a backup of every service appears in /var/backups/{stack} ({shell})",
                len(new) == 1 and sorted(os.listdir(os.path.join(root, new[0])))
                == sorted([SERVICE, CACHE, VECTORS, APP, "_secrets"]), (new, sorted(os.listdir(root)) if os.path.isdir(root) else None))
    log = os.path.join(logs, f"{stack}-backup.log")
    t.check(f"... and its log goes to /var/log/{stack}-backup.log",
            os.path.exists(log) and "backup complete" in open(log).read(), log)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_backup.py OUT_DIR")
    OUT = os.path.abspath(sys.argv[1])
    main("backup", body)
