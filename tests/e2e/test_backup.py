#!/usr/bin/env python3
"""Live test of the generated backup/restore scripts: tests/e2e/test_backup.py OUT_DIR

Runs OUT_DIR/backup/backup.sh and restore.sh, unchanged, against a real PostgreSQL 15
(a throwaway cluster started here on 127.0.0.1 and a socket in a temp dir). The
scripts reach the database through `docker compose ... exec -T db CMD`; a stand-in
`docker` (stand-ins/docker) first on PATH checks that the call addresses the
production project and runs CMD locally against the cluster. A stand-in `aws`
takes the offsite sync. Only the `db` service is exercised: the scripts are always
called as `backup.sh db` / `restore.sh DIR [db]` (the flagship's `cache` and
`vectors` need Redis and Qdrant, which are not installed here).
"""

import datetime
import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, main  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PGBIN = os.environ.get("RAGC_PGBIN", "/usr/lib/postgresql/15/bin")
SERVICE, USER, DATABASE = "db", "raguser", "rag_engine"
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
    official image with POSTGRES_USER=raguser, and local connections are trusted
    there as here."""

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

    def start(self):
        self._run(f"{PGBIN}/initdb", "-D", self.data, f"--username={USER}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
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
    try:
        run_all(t, base, cluster)
    finally:
        cluster.stop()
        if os.environ.get("RAGC_E2E_KEEP") == "1":
            print(f"     kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_all(t, base, cluster):
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

    def script_env(root, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "STANDIN_", "BACKUP_", "KEEP_"))}
        env.update(
            PATH=os.path.join(HERE, "stand-ins") + os.pathsep + os.environ["PATH"],
            BACKUP_ROOT=root,
            STANDIN_DEPLOY_DIR=OUT,
            STANDIN_SERVICE=SERVICE,
            STANDIN_PGHOST=cluster.sock,
            STANDIN_PGPORT=str(cluster.port),
            STANDIN_PGBIN=PGBIN,
            STANDIN_LOG=log_path,
            STANDIN_S3_DIR=s3,
        )
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(script, args, root, stdin="", **extra):
        return subprocess.run([script] + args, env=script_env(root, **extra), input=stdin,
                              capture_output=True, text=True, timeout=300)

    def show(r):
        return f"exit {r.returncode}; stderr: {r.stderr.strip()[-800:]}"

    cluster.start()
    cluster.psql(f"CREATE DATABASE {DATABASE};", db="postgres")
    cluster.psql(SEED)
    original = cluster.fingerprint()
    t.note(f"PostgreSQL {cluster.psql('SHOW server_version;').strip()} on 127.0.0.1:{cluster.port}; "
           f"seeded: {original['documents'][0]} documents, {original['chunks'][0]} chunks")
    t.eq("seed data: 10000 chunk rows", original["chunks"][0], "10000")

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
        t.eq("the finished folder is synced offsite (aws s3 sync)",
             [x["argv"] for x in c if x["argv"][0] == "aws"],
             [["aws", "s3", "sync", "--only-show-errors", os.path.join(root, first), dest]])
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
             [x for x in calls(n0) if x["argv"][0] == "aws"], [])
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
    lock = os.path.join(root, ".backup.lock")
    snap = tree(root)
    n0 = len(calls())
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        r = run(backup_sh, [SERVICE], root)
    t.eq("while another run holds the lock, backup.sh exits 75", r.returncode, 75)
    t.check("... and writes nothing, dumps nothing", tree(root) == snap and calls(n0) == [], show(r))

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


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_backup.py OUT_DIR")
    OUT = os.path.abspath(sys.argv[1])
    main("backup", body)
