"""gunicorn settings for both roles: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Why threads: with the default sync worker one connection holds a whole worker until its
request has arrived, so four clients sending their headers a byte at a time froze a
two-worker aggregator (/healthz answered after 33 s). A gthread worker gives each connection
a thread of a pool, so slow clients take threads, not the server. The real shield is the
reverse proxy, which reads the whole request before passing it on (nginx
`proxy_request_buffering on;` and `proxy_buffering on;`, README "Aggregator"); this keeps a
server reachable without one (kiosk devices, the demo) or when the proxy is bypassed.

Settings read from the environment (command-line options override them):
SIPAS_BIND (127.0.0.1:8000), SIPAS_GUNICORN_WORKERS (2), SIPAS_GUNICORN_THREADS (16),
SIPAS_GUNICORN_TIMEOUT (30 s).
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


bind = os.environ.get("SIPAS_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _int("SIPAS_GUNICORN_WORKERS", 2)
# Requests in flight per worker; a slow client ties up one of these, not the worker.
threads = _int("SIPAS_GUNICORN_THREADS", 16)
# A worker whose main loop stops answering for this long is restarted (a stuck request does
# not count: in gthread the main loop keeps notifying while a thread works).
timeout = _int("SIPAS_GUNICORN_TIMEOUT", 30)
graceful_timeout = 10
# Idle keep-alive connections are closed after this many seconds, so they do not pile up.
keepalive = 5
# Bounded request lines and headers (gunicorn refuses larger ones with a 400).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# Restart each worker now and then (with jitter), so a slow leak cannot build up.
max_requests = 5000
max_requests_jitter = 500
# gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): a kiosk and
# an aggregator on one machine (the demo, the tests) would take it from each other. Nothing here
# uses it.
control_socket_disable = True
