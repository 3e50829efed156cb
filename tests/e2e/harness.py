"""Shared helpers of the live tests under tests/e2e/ (Python 3 stdlib only).

Every check prints one line, `PASS <suite>: <what>` or `FAIL <suite>: <what> -- <detail>`;
tests/e2e/run counts those lines. A suite exits 1 if any check failed, and 2 if it
crashed (the crash is printed as a FAIL line too, so it is counted).
"""

import os
import re
import socket
import sys
import traceback


class Suite:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        """Records one assertion. Returns `ok` so callers can skip dependent checks."""
        if ok:
            self.passed += 1
            print(f"PASS {self.name}: {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {self.name}: {what} -- {detail}", flush=True)
        return bool(ok)

    def eq(self, what, got, want):
        return self.check(what, got == want, f"got {got!r}, want {want!r}")

    def note(self, text):
        print(f"     {self.name}: {text}", flush=True)

    def run(self, body):
        """Runs body(self); a crash becomes one FAIL line. Returns the exit status."""
        try:
            body(self)
        except Exception:  # noqa: BLE001 - any crash is a failed test
            self.failed += 1
            tb = traceback.format_exc().rstrip().replace("\n", "\n     | ")
            print(f"FAIL {self.name}: the suite crashed -- \n     | {tb}", flush=True)
            return 2
        return 1 if self.failed else 0


def crontab_parts(text):
    """A crontab's variable assignments ({NAME: value}) and its schedule lines,
    as cron reads them (blank lines and comments skipped)."""
    assignments, entries = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if m:
            assignments[m.group(1)] = m.group(2)
        else:
            entries.append(line)
    return assignments, entries


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15.0, proc=None):
    """Waits until 127.0.0.1:port accepts connections (or proc exits)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def main(name, body):
    suite = Suite(name)
    status = suite.run(body)
    print(f"     {name}: {suite.passed} passed, {suite.failed} failed", flush=True)
    sys.stdout.flush()
    os._exit(status)  # no lingering server threads keep the process alive
