"""The stand-in commands (see __init__.py). Run as `python3 -m ragc_standin.cli NAME ARGS`."""
import glob
import importlib
import os
import socket
import subprocess
import sys
import time
from http.server import ThreadingHTTPServer

from ragc_standin import pg, resp


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load(spec):
    sys.path.insert(0, os.getcwd())
    module, _, attr = spec.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, attr) if attr else mod


def option(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def serve(spec, host, port):
    handler = load(spec)
    log("stand-in server: %s on %s:%s" % (spec, host, port))
    ThreadingHTTPServer((host, int(port)), handler).serve_forever()


def sources():
    """The mtimes of the *.py files under the working directory: what uvicorn's
    StatReload watches by default."""
    found = {}
    for path in glob.glob("**/*.py", recursive=True):
        try:
            found[path] = os.stat(path).st_mtime_ns
        except OSError:
            pass
    return found


def reloader(args):
    """`uvicorn --reload`: the server runs in a child process, started again
    whenever a watched file changes (uvicorn's supervisor does the same)."""
    child_args = [a for a in args if a != "--reload"]
    while True:
        seen = sources()
        child = subprocess.Popen([sys.executable, "-m", "ragc_standin.cli", "uvicorn", *child_args])
        while child.poll() is None and sources() == seen:
            time.sleep(0.25)
        if child.poll() is None:
            log("stand-in uvicorn: a watched file changed: reloading")
            child.terminate()
            child.wait()
        else:
            # A crash waits for the next edit, as uvicorn's reloader does.
            while sources() == seen:
                time.sleep(0.25)


def uvicorn(args):
    if "--reload" in args:
        return reloader(args)
    serve(args[0], option(args, "--host", "127.0.0.1"), option(args, "--port", "8000"))


def gunicorn(args):
    host, _, port = option(args, "--bind", "127.0.0.1:8000").rpartition(":")
    serve(args[0], host, port)


def alembic(args):
    if args[:2] != ["upgrade", "head"]:
        log("stand-in alembic: only `upgrade head` is supported")
        return 2
    conn = pg.connect(os.environ["DATABASE_URL"])
    conn.query("CREATE TABLE IF NOT EXISTS alembic_version (version_num text PRIMARY KEY)")
    done = {row[0] for row in conn.query("SELECT version_num FROM alembic_version")}
    for path in sorted(glob.glob("migrations/*.sql")):
        version = os.path.basename(path)[:-4]
        if version in done:
            continue
        log("alembic: running upgrade -> %s" % version)
        try:
            conn.query("BEGIN; %s; INSERT INTO alembic_version VALUES ('%s'); COMMIT" % (open(path).read(), version))
        except pg.Error as e:
            log("alembic: %s failed: %s" % (version, e))
            return 1
    conn.close()
    return 0


def celery(args):
    app = option(args, "-A", "tasks")
    key = "ragc-standin:worker:" + socket.gethostname()
    if "inspect" in args and "ping" in args:
        try:
            alive = resp.connect(os.environ["REDIS_URL"], timeout=3).command("EXISTS", key)
        except (OSError, resp.Error) as e:
            log("inspect ping: %s" % e)
            return 1
        return 0 if alive else 1
    if "worker" not in args:
        log("stand-in celery: only `worker` and `inspect ping` are supported")
        return 2
    tasks = load(app)
    failing_since = None
    while True:
        try:
            broker = resp.connect(os.environ["REDIS_URL"])
            log("celery@%s ready (broker connected)" % socket.gethostname())
            failing_since = None
            while True:
                broker.command("SET", key, str(time.time()), "EX", "10")
                job = broker.command("BRPOP", "celery", "2")
                if job:
                    tasks.run(job[1])
        except (OSError, resp.Error) as e:
            failing_since = failing_since or time.time()
            log("celery: broker connection lost: %s; retrying" % e)
            if time.time() - failing_since > 60:
                return 1
            time.sleep(1)


def main():
    name, args = sys.argv[1], sys.argv[2:]
    return {"uvicorn": uvicorn, "gunicorn": gunicorn, "alembic": alembic, "celery": celery}[name](args)


if __name__ == "__main__":
    sys.exit(main())
