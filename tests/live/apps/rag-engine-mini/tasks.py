"""What the worker (`celery -A tasks worker`) runs for each job: record it in PostgreSQL."""
import os

from ragc_standin import pg


def run(payload):
    conn = pg.connect(os.environ["DATABASE_URL"])
    conn.query("INSERT INTO jobs_done (payload) VALUES ('%s')" % payload.replace("'", "''"))
    conn.close()
