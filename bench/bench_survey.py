"""Phone survey: bytes per page (gzip, HTML + CSS) and server time per page.

Runs the app in-process on a fresh SQLite database with the demo organisation and answers the
survey SURVEYS times through the WSGI test client, so the time is the server's own (no network).
Reported per page: compressed size against the 60 KB budget, and median / p95 time of the GET
that shows the page and of the POST that saves it (the last POST stores the response and its
rollups), with the ratio to GET /healthz measured in the same run.
"""

from __future__ import annotations

import gzip
import re
import statistics
import tempfile
import time
from pathlib import Path

SURVEYS = 40
BUDGET = 60 * 1024


def _app(tmp: Path):
    from core import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
        "INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnop",
        "ROLE": "aggregator",
        "WTF_CSRF_ENABLED": False,
    }, env={})
    with app.app_context():
        from flask_migrate import upgrade

        from core.extensions import db
        from demo.seed import seed_demo

        upgrade()
        seed_demo()
        db.session.commit()
    return app


def _timed(call):
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def _quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def main() -> None:
    from sqlalchemy import select

    from core.extensions import db
    from core.models import Counter
    from core.services.survey.links import dossier_token
    from tests.support.survey import page_answers

    with tempfile.TemporaryDirectory() as folder:
        app = _app(Path(folder))
        with app.app_context(), app.test_request_context():
            counter = db.session.scalars(select(Counter).order_by(Counter.id)).first()
            tokens = [dossier_token(counter.unit_id, f"BENCH-{n}", counter_id=counter.id)
                      for n in range(SURVEYS)]
        client = app.test_client()
        css_bytes = 0
        get_times: dict[str, list[float]] = {}
        post_times: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        health = []
        for _ in range(SURVEYS):
            health.append(_timed(lambda: client.get("/healthz"))[1])
        for n, token in enumerate(tokens):
            pages = [("intro", f"/s/{token}")]
            response, took = _timed(lambda t=token: client.get(f"/s/{t}"))
            get_times.setdefault("intro", []).append(took)
            html = response.get_data(as_text=True)
            if n == 0:
                for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
                    sheet = client.get(href)
                    css_bytes += len(gzip.compress(sheet.get_data()))
                    sheet.close()
            sizes["intro"] = len(gzip.compress(html.encode()))
            response, took = _timed(lambda t=token: client.post(f"/s/{t}"))
            post_times.setdefault("intro", []).append(took)
            location = response.headers["Location"]
            while not location.endswith("/thanks"):
                name = "page " + location.rsplit("/", 1)[1]
                pages.append((name, location))
                response, took = _timed(lambda loc=location: client.get(loc))
                get_times.setdefault(name, []).append(took)
                html = response.get_data(as_text=True)
                sizes[name] = len(gzip.compress(html.encode()))
                nav = "submit" if 'value="submit"' in html else "next"
                form = {**page_answers(html, pick=n), "nav": nav}
                response, took = _timed(lambda loc=location, f=form: client.post(loc, data=f))
                post_times.setdefault(name, []).append(took)
                location = response.headers["Location"]
            response, took = _timed(lambda loc=location: client.get(loc))
            get_times.setdefault("thanks", []).append(took)
            sizes["thanks"] = len(gzip.compress(response.get_data()))
    health_median = statistics.median(health)
    print(f"surveys answered: {SURVEYS}; CSS (app.css + survey.css) gzip: {css_bytes} B, "
          f"GET /healthz median {health_median * 1000:.2f} ms")
    print(f"{'page':<8} {'gzip B':>7} {'of 60KB':>8} {'GET med':>8} {'GET p95':>8} "
          f"{'xhealth':>8} {'POST med':>9} {'POST p95':>9}")
    for name in get_times:
        total = sizes[name] + css_bytes
        g_med, g_p95 = _quantiles(get_times[name])
        line = (f"{name:<8} {total:>7} {total / BUDGET:>8.1%} {g_med * 1000:>6.2f}ms "
                f"{g_p95 * 1000:>6.2f}ms {g_med / health_median:>7.1f}x")
        if name in post_times:
            p_med, p_p95 = _quantiles(post_times[name])
            line += f" {p_med * 1000:>7.2f}ms {p_p95 * 1000:>7.2f}ms"
        print(line)


if __name__ == "__main__":
    main()
