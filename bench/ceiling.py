"""The ceiling: the benchmark's four workloads written by hand.

A plain Flask + SQLAlchemy Core app that answers the same URLs as the wrapper
with the same rows and fields, issuing the same SQL (checked by `bench.run`),
with every conversion written inline and bodies encoded with orjson. It only
understands the query strings the benchmark sends; it is the upper bound of
what the wrapper could reach on the same server, not a product.

Served like the wrapper, with the database URL in BENCH_CEILING_URL::

    export BENCH_CEILING_URL=sqlite:////abs/path/plant.db
    gunicorn -w 2 -b 127.0.0.1:8001 bench.ceiling:app
    granian --interface wsgi --workers 2 --blocking-threads 1 --port 8001 bench.ceiling:app
"""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa
from flask import Flask, Response, request

URL_ENV = "BENCH_CEILING_URL"

_metadata = sa.MetaData()
JOBSCHED = sa.Table(
    "JOBSCHED",
    _metadata,
    sa.Column("JOB_NO", sa.Integer, primary_key=True),
    sa.Column("ORD_NO", sa.CHAR(10)),
    sa.Column("WRK_CTR", sa.CHAR(4)),
    sa.Column("STAT", sa.CHAR(2)),
    sa.Column("DUE_DT", sa.Integer),
    sa.Column("STRT_TM", sa.Integer),
    sa.Column("PRTY", sa.SmallInteger),
    sa.Column("OPER_NM", sa.CHAR(20)),
)
ORDHDR = sa.Table(
    "ORDHDR",
    _metadata,
    sa.Column("ORD_NO", sa.CHAR(10), primary_key=True),
    sa.Column("CUST_NO", sa.CHAR(8)),
    sa.Column("ORD_DT", sa.Integer),
    sa.Column("SHIP_DT", sa.Integer),
    sa.Column("STAT", sa.CHAR(2)),
    sa.Column("TOT_AMT", sa.Integer),
    sa.Column("RUSH_FL", sa.CHAR(1)),
)
JOB, ORD = JOBSCHED.c, ORDHDR.c

JOB_STATUS = {"QU": "queued", "RN": "running", "HD": "held", "CP": "complete"}
JOB_CODE = {name: code for code, name in JOB_STATUS.items()}
ORDER_STATUS = {"OP": "open", "SH": "shipped", "CL": "closed", "CN": "cancelled"}


def _date(n: int) -> str | None:
    """YYYYMMDD integer -> ISO date; 0 and 99999999 mean no date."""
    if n == 0 or n == 99999999:
        return None
    return f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}"


def _time(n: int) -> str | None:
    """HHMMSS integer -> ISO time; 0 means not started."""
    return None if n == 0 else f"{n // 10000:02d}:{n // 100 % 100:02d}:{n % 100:02d}"


def _money(cents: int) -> orjson.Fragment:
    whole, frac = divmod(abs(cents), 100)
    return orjson.Fragment(f"{'-' if cents < 0 else ''}{whole}.{frac:02d}".encode())


def job(r: Any) -> dict[str, Any]:
    return {
        "job_id": r[0],
        "order_no": r[1].rstrip(),
        "work_center": r[2].rstrip(),
        "status": JOB_STATUS[r[3]],
        "due_date": _date(r[4]),
        "started_at": _time(r[5]),
        "priority": r[6],
        "operator": r[7].rstrip() or None,
    }


def order(r: Any) -> dict[str, Any]:
    return {
        "order_no": r[0].rstrip(),
        "customer_no": r[1].rstrip(),
        "ordered_on": _date(r[2]),
        "shipped_on": _date(r[3]),
        "status": ORDER_STATUS[r[4]],
        "total": _money(r[5]),
        "rush": r[6] == "Y",
    }


def _after(first: Any, second: Any, after: list[Any]) -> sa.ColumnElement[bool]:
    """Rows after `after` in (first, second) order, written as the wrapper writes it."""
    return sa.and_(
        first >= after[0],
        sa.or_(first > after[0], sa.and_(first == after[0], second > after[1])),
    )


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def _decode_cursor(text: str) -> list[Any]:
    return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, mimetype="application/json")


def create_app(url: str) -> Flask:
    """The ceiling app over the benchmark database at `url`."""
    pooled = {} if url.startswith("sqlite") else {"pool_size": 4, "max_overflow": 0}
    engine = sa.create_engine(url, **pooled)
    app = Flask("ceiling")
    app.extensions["bench_engine"] = engine

    def page(stmt: sa.Select, limit: int, render: Any, key: Any) -> Response:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        body: dict[str, Any] = {"data": [render(r) for r in rows[:limit]], "next_cursor": None}
        headers = {}
        if len(rows) > limit:
            body["next_cursor"] = cursor = _encode_cursor(key(rows[limit - 1]))
            args = {**request.args.to_dict(), "cursor": cursor}
            headers["Link"] = f'<{request.base_url}?{urlencode(args)}>; rel="next"'
        return _json(body, headers=headers)

    @app.get("/v1/jobs/<int:job_id>")
    def get_job(job_id: int) -> Response:
        stmt = sa.select(*JOBSCHED.c).where(JOB.JOB_NO == job_id).limit(2)
        with engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return _json({"title": "Not Found", "status": 404}, 404)
        return _json(job(row))

    @app.get("/v1/jobs")
    def list_jobs() -> Response:
        args = request.args
        limit = int(args.get("limit", 50))
        stmt = (
            sa.select(*JOBSCHED.c)
            .where(JOB.WRK_CTR == args["work_center"])
            .where(JOB.STAT == JOB_CODE[args["status"]])
        )
        if "cursor" in args:
            stmt = stmt.where(_after(JOB.DUE_DT, JOB.JOB_NO, _decode_cursor(args["cursor"])))
        stmt = stmt.order_by(JOB.DUE_DT.asc(), JOB.JOB_NO.asc()).limit(limit + 1)
        return page(stmt, limit, job, lambda r: [r[4], r[0]])

    @app.get("/v1/orders")
    def list_orders() -> Response:
        args = request.args
        limit = int(args.get("limit", 50))
        by_date = args.get("sort") == "ordered_on"
        stmt = sa.select(*ORDHDR.c)
        if "customer_no" in args:
            stmt = stmt.where(ORD.CUST_NO == args["customer_no"])
        if "cursor" in args:
            after = _decode_cursor(args["cursor"])
            if by_date:
                stmt = stmt.where(_after(ORD.ORD_DT, ORD.ORD_NO, after))
            else:
                stmt = stmt.where(sa.and_(ORD.ORD_NO >= after[0], ORD.ORD_NO > after[0]))
        if by_date:
            stmt = stmt.order_by(ORD.ORD_DT.asc(), ORD.ORD_NO.asc())
            key = lambda r: [r[2], r[0]]  # noqa: E731
        else:
            stmt = stmt.order_by(ORD.ORD_NO.asc())
            key = lambda r: [r[0]]  # noqa: E731
        return page(stmt.limit(limit + 1), limit, order, key)

    return app


app: Flask | None = create_app(os.environ[URL_ENV]) if URL_ENV in os.environ else None
