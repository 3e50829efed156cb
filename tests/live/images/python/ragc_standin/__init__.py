"""Stand-ins for the PyPI packages the examples' apps run (tests only).

uvicorn, gunicorn, alembic and celery cannot be installed offline, so the
python stand-in image carries small programs under their names that do what
the generated files rely on, with the standard library only:
  uvicorn MODULE:APP --host H --port P [--reload]   serve APP (an
      http.server request handler class) with ThreadingHTTPServer; with
      --reload in a child process, started again when a *.py file under
      the working directory changes (uvicorn's StatReload)
  gunicorn MODULE:APP --bind H:P                     the same
  alembic upgrade head    apply migrations/*.sql in order, once each, to
      $DATABASE_URL (table alembic_version), exit 1 on the first error
  celery -A MODULE worker ...   stay connected to the broker at $REDIS_URL,
      run MODULE.run(payload) for each job pushed on list `celery`, and keep
      a heartbeat key `ragc-standin:worker:HOSTNAME` (10 s expiry) there
  celery -A MODULE inspect ping   exit 0 when this host's worker heartbeat
      is on the broker, 1 otherwise (what `inspect ping` asks of a worker)
pg and resp are minimal PostgreSQL (SCRAM-SHA-256) and Redis clients.
"""
