"""The ceiling: the benchmark's four workloads written by hand.

A plain Flask + SQLAlchemy Core app that answers the same URLs as the wrapper
with the same rows and fields, issuing the same SQL (checked by `bench.run`):
statements built once with bound values, every conversion written inline,
bodies encoded with orjson. It only understands the query strings the
benchmark sends; it is the upper bound of what the wrapper could reach on the
same server, not a product.

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


# Statements are built once, values bound at execution (as a hand-tuned app would).
_limit = sa.bindparam("limit", type_=sa.Integer)
_a0, _a1 = sa.bindparam("a0"), sa.bindparam("a1")  # the cursor's values


def _after(first: Any, second: Any) -> sa.ColumnElement[bool]:
    """Rows after (a0, a1) in (first, second) order, written as the wrapper writes it."""
    return sa.and_(first >= _a0, sa.or_(first > _a0, sa.and_(first == _a0, second > _a1)))


GET_JOB = sa.select(*JOBSCHED.c).where(JOB.JOB_NO == sa.bindparam("job_no")).limit(_limit)
_dashboard = (
    sa.select(*JOBSCHED.c)
    .where(JOB.WRK_CTR == sa.bindparam("work_center"))
    .where(JOB.STAT == sa.bindparam("status"))
)
DASHBOARD = {
    after: (_dashboard.where(_after(JOB.DUE_DT, JOB.JOB_NO)) if after else _dashboard)
    .order_by(JOB.DUE_DT.asc(), JOB.JOB_NO.asc())
    .limit(_limit)
    for after in (False, True)
}


def _orders(customer: bool, by_date: bool, after: bool) -> sa.Select:
    stmt = sa.select(*ORDHDR.c)
    if customer:
        stmt = stmt.where(ORD.CUST_NO == sa.bindparam("customer_no"))
    if after:
        by_key = sa.and_(ORD.ORD_NO >= _a0, ORD.ORD_NO > _a0)
        stmt = stmt.where(_after(ORD.ORD_DT, ORD.ORD_NO) if by_date else by_key)
    order = (ORD.ORD_DT.asc(), ORD.ORD_NO.asc()) if by_date else (ORD.ORD_NO.asc(),)
    return stmt.order_by(*order).limit(_limit)


ORDERS = {
    (customer, by_date, after): _orders(customer, by_date, after)
    for customer in (False, True)
    for by_date in (False, True)
    for after in (False, True)
}


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

    def page(
        stmt: sa.Select, params: dict[str, Any], limit: int, render: Any, key: Any
    ) -> Response:
        with engine.connect() as conn:
            rows = conn.execute(stmt, {**params, "limit": limit + 1}).all()
        body: dict[str, Any] = {"data": [render(r) for r in rows[:limit]], "next_cursor": None}
        headers = {}
        if len(rows) > limit:
            body["next_cursor"] = cursor = _encode_cursor(key(rows[limit - 1]))
            args = {**request.args.to_dict(), "cursor": cursor}
            headers["Link"] = f'<{request.base_url}?{urlencode(args)}>; rel="next"'
        return _json(body, headers=headers)

    def cursor_values() -> dict[str, Any]:
        if "cursor" not in request.args:
            return {}
        values = _decode_cursor(request.args["cursor"])
        return {"a0": values[0], "a1": values[-1]}

    @app.get("/v1/jobs/<int:job_id>")
    def get_job(job_id: int) -> Response:
        with engine.connect() as conn:
            row = conn.execute(GET_JOB, {"job_no": job_id, "limit": 2}).first()
        if row is None:
            return _json({"title": "Not Found", "status": 404}, 404)
        return _json(job(row))

    @app.get("/v1/jobs")
    def list_jobs() -> Response:
        args = request.args
        params = {
            "work_center": args["work_center"],
            "status": JOB_CODE[args["status"]],
            **cursor_values(),
        }
        stmt = DASHBOARD["cursor" in args]
        return page(stmt, params, int(args.get("limit", 50)), job, lambda r: [r[4], r[0]])

    @app.get("/v1/orders")
    def list_orders() -> Response:
        args = request.args
        by_date = args.get("sort") == "ordered_on"
        params = cursor_values()
        if "customer_no" in args:
            params["customer_no"] = args["customer_no"]
        stmt = ORDERS["customer_no" in args, by_date, "cursor" in args]
        key = (lambda r: [r[2], r[0]]) if by_date else (lambda r: [r[0]])
        return page(stmt, params, int(args.get("limit", 50)), order, key)

    return app


app: Flask | None = create_app(os.environ[URL_ENV]) if URL_ENV in os.environ else None
