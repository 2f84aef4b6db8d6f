"""`/vN/webhooks`: subscriptions, their secrets, deliveries, replays and dead letters.

Every operation needs the scope `webhooks:manage` and acts on the caller's own
subscriptions of that API version only (anyone else's is a 404). Deliveries
are made by the worker, never by an API process: ping, redeliver and the
replays queue deliveries and answer 202.
"""

from __future__ import annotations

import inspect
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request
from flask_smorest import Api, Blueprint

from wrapper.events import delivery_log, outbox, queue, subscriptions
from wrapper.events.delivery_log import DeliveryRecord
from wrapper.events.ping import enqueue_ping
from wrapper.events.subscriptions import event_type_patterns
from wrapper.openapi import SECURITY_SCHEMES
from wrapper.problems import PROBLEM_JSON, InvalidField, Problem
from wrapper.responses import json_response
from wrapper.webhooks import schemas as s
from wrapper.webhooks.service import SCOPE, Webhooks, body, epoch, moment, present, query

SECURITY = {"security": [{name: [SCOPE]} for name in SECURITY_SCHEMES]}


class TooManySubscriptions(Problem):
    status = 409
    slug = "too-many-subscriptions"
    title = "Too many subscriptions"


def _problems(blp: Blueprint, *statuses: int):  # type: ignore[no-untyped-def]
    def decorate(func):  # type: ignore[no-untyped-def]
        for status in statuses:
            func = blp.alt_response(status, schema="Problem", content_type=PROBLEM_JSON)(func)
        return func

    return decorate


def _record(r: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "event_id": r.event_id,
        "event_type": r.event_type,
        "status": r.status,
        "attempts": r.attempts,
        "next_attempt_at": moment(r.next_attempt_at),
        "created_at": moment(r.created_at),
        "completed_at": moment(r.completed_at),
        "last_status_code": r.last_status_code,
        "last_error": r.last_error,
        "log": [
            {"at": moment(a.at), "status_code": a.status_code, "latency_ms": a.latency_ms,
             "error": a.error}
            for a in r.log
        ],
    }  # fmt: skip


def _page(records: list[DeliveryRecord], limit: int) -> dict[str, Any]:
    following = None
    if len(records) == limit:
        args = request.args.to_dict(flat=True) | {"before": str(records[-1].id)}
        following = f"{request.path}?{urlencode(sorted(args.items()))}"
    return {"items": [_record(r) for r in records], "next": following}


def register_webhooks(app: Flask, api: Api, version: str, hooks: Webhooks) -> None:
    blp = webhooks_blueprint(version, hooks)
    api.register_blueprint(blp)
    for name, view in list(app.view_functions.items()):
        if name.startswith(f"{blp.name}."):
            # The decorators document; the views parse and answer themselves.
            app.view_functions[name] = inspect.unwrap(view)


def webhooks_blueprint(version: str, hooks: Webhooks) -> Blueprint:
    blp = Blueprint(
        f"{version}-webhooks",
        __name__,
        url_prefix=f"/{version}/webhooks",
        description="Webhook subscriptions: signed CloudEvents of the rows you may read.",
    )

    def doc(summary: str, operation: str) -> Any:
        return blp.doc(summary=summary, operationId=f"{version}_{operation}", **SECURITY)

    @blp.route("", methods=["POST"], endpoint="create")
    @doc("Create a subscription (its secret is shown only in this answer)", "create_webhook")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": s.SubscriptionIn}},
        }
    )
    @blp.response(201, s.SubscriptionCreated)
    @_problems(blp, 400, 401, 403, 409, 429)
    def create() -> Response:
        owner, principal = hooks.caller()
        given = body(s.SubscriptionIn())
        patterns = event_type_patterns(given["event_types"])
        hooks.visibility.check(principal, version, patterns, given.get("filter"))
        existing = subscriptions.list_for_owner(hooks.engine, owner, api_version=version)
        if len(existing) >= hooks.config.max_subscriptions:
            raise TooManySubscriptions(
                f"at most {hooks.config.max_subscriptions} subscriptions per client and version"
            )
        sub, secret = subscriptions.create(
            hooks.engine,
            owner=owner,
            api_version=version,
            url=given["url"],
            event_types=patterns,
            filter=given.get("filter") or None,
            owner_grant=hooks.grant(principal),
            policy=hooks.policy,
            resolver=hooks.resolver,
        )
        if given.get("active") is False:
            sub = subscriptions.update(hooks.engine, sub.id, active=False, policy=hooks.policy)
        headers = {"Location": f"{request.path}/{sub.id}"}
        return json_response(present(sub) | {"secret": secret}, 201, headers)

    @blp.route("", methods=["GET"], endpoint="list")
    @doc("Your subscriptions", "list_webhooks")
    @blp.response(200, s.SubscriptionList)
    @_problems(blp, 401, 403, 429)
    def list_all() -> Response:
        owner, _ = hooks.caller()
        found = subscriptions.list_for_owner(hooks.engine, owner, api_version=version)
        return json_response({"items": [present(sub) for sub in found]})

    @blp.route("/<subscription_id>", methods=["GET"], endpoint="get")
    @doc("One subscription", "get_webhook")
    @blp.response(200, s.SubscriptionOut)
    @_problems(blp, 401, 403, 404, 429)
    def get(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        return json_response(present(sub))

    @blp.route("/<subscription_id>", methods=["PATCH"], endpoint="update")
    @doc("Change a subscription (it then sees what your credentials see now)", "update_webhook")
    @blp.doc(requestBody={"content": {"application/json": {"schema": s.SubscriptionPatch}}})
    @blp.response(200, s.SubscriptionOut)
    @_problems(blp, 400, 401, 403, 404, 429)
    def update(subscription_id: str) -> Response:
        sub, principal = hooks.own(version, subscription_id)
        given = body(s.SubscriptionPatch())
        changes: dict[str, Any] = {}
        if "event_types" in given:
            changes["event_types"] = event_type_patterns(given["event_types"])
        if "filter" in given:
            changes["filter"] = given["filter"] or None
        for name in ("url", "active"):
            if name in given:
                changes[name] = given[name]
        patterns = changes.get("event_types", sub.event_types)
        hooks.visibility.check(principal, version, patterns, changes.get("filter", sub.filter))
        updated = subscriptions.update(
            hooks.engine,
            sub.id,
            owner_grant=hooks.grant(principal),
            policy=hooks.policy,
            resolver=hooks.resolver,
            **changes,
        )
        return json_response(present(updated))

    @blp.route("/<subscription_id>", methods=["DELETE"], endpoint="delete")
    @doc("Delete a subscription with its deliveries", "delete_webhook")
    @blp.response(204)
    @_problems(blp, 401, 403, 404, 429)
    def delete(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        subscriptions.delete(hooks.engine, sub.id)
        return Response(status=204)

    @blp.route("/<subscription_id>/secret/rotate", methods=["POST"], endpoint="rotate")
    @doc("A new signing secret; the current ones keep signing for the overlap", "rotate_secret")
    @blp.doc(requestBody={"content": {"application/json": {"schema": s.RotateIn}}})
    @blp.response(200, s.SecretOut)
    @_problems(blp, 400, 401, 403, 404, 429)
    def rotate(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        overlap = body(s.RotateIn()).get("overlap_seconds", hooks.config.secret_overlap)
        if overlap > hooks.config.max_secret_overlap:
            raise InvalidField(
                "overlap_seconds",
                f"overlap_seconds: at most {hooks.config.max_secret_overlap:g}",
            )
        now = time.time()
        secret = subscriptions.rotate_secret(hooks.engine, sub.id, overlap=overlap, now=now)
        return json_response({"secret": secret, "previous_expire_at": moment(now + overlap)})

    @blp.route("/<subscription_id>/ping", methods=["POST"], endpoint="ping")
    @doc("Queue a signed webhook.ping delivery", "ping_webhook")
    @blp.response(202, s.PingOut)
    @_problems(blp, 401, 403, 404, 429)
    def ping(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        event_id, delivery_id = enqueue_ping(hooks.engine, sub, source_base=hooks.source_base)
        return json_response({"event_id": event_id, "delivery_id": delivery_id}, 202)

    @blp.route("/<subscription_id>/deliveries", methods=["GET"], endpoint="deliveries")
    @doc("Deliveries, newest first, with their attempts", "list_webhook_deliveries")
    @blp.doc(parameters=[{"in": "query", "schema": s.DeliveryQuery}])
    @blp.response(200, s.DeliveryPage)
    @_problems(blp, 400, 401, 403, 404, 429)
    def deliveries(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        args = query(s.DeliveryQuery())
        limit = args.pop("limit", 50)
        records = delivery_log.delivery_log(hooks.engine, sub.id, limit=limit, **args)
        return json_response(_page(records, limit))

    @blp.route(
        "/<subscription_id>/events/<event_id>/redeliver", methods=["POST"], endpoint="redeliver"
    )
    @doc("Send one event again, as it was delivered", "redeliver_webhook_event")
    @blp.response(202, s.RedeliveredOut)
    @_problems(blp, 401, 403, 404, 429)
    def redeliver(subscription_id: str, event_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        delivery_id = queue.redeliver(hooks.engine, sub.id, event_id, now=time.time())
        return json_response({"delivery_id": delivery_id}, 202)

    @blp.route("/<subscription_id>/replay", methods=["POST"], endpoint="replay")
    @doc("Send again every event since a time or after an event", "replay_webhook_events")
    @blp.doc(
        requestBody={"required": True, "content": {"application/json": {"schema": s.ReplayIn}}}
    )
    @blp.response(202, s.QueuedOut)
    @_problems(blp, 400, 401, 403, 404, 429)
    def replay(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        given = body(s.ReplayIn())
        if ("since" in given) == ("after_event" in given):
            raise InvalidField("since", "give either since (a date-time) or after_event")
        since = epoch(given["since"], "since") if "since" in given else None
        queued = outbox.replay(
            hooks.engine,
            sub,
            hooks.visibility.decide,
            since=since,
            after_event=given.get("after_event"),
            source_base=hooks.source_base,
        )
        return json_response({"queued": queued}, 202)

    @blp.route("/<subscription_id>/dead-letters", methods=["GET"], endpoint="dead_letters")
    @doc("Deliveries that failed every attempt", "list_webhook_dead_letters")
    @blp.doc(parameters=[{"in": "query", "schema": s.PageQuery}])
    @blp.response(200, s.DeliveryPage)
    @_problems(blp, 400, 401, 403, 404, 429)
    def dead_letters(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        args = query(s.PageQuery())
        limit = args.pop("limit", 50)
        records = delivery_log.dead_letters(hooks.engine, sub.id, limit=limit, **args)
        return json_response(_page(records, limit))

    @blp.route("/<subscription_id>/dead-letters/replay", methods=["POST"], endpoint="replay_dead")
    @doc("Queue dead letters again for a fresh schedule of attempts", "replay_dead_letters")
    @blp.doc(requestBody={"content": {"application/json": {"schema": s.DeadReplayIn}}})
    @blp.response(202, s.QueuedOut)
    @_problems(blp, 400, 401, 403, 404, 429)
    def replay_dead(subscription_id: str) -> Response:
        sub, _ = hooks.own(version, subscription_id)
        ids = body(s.DeadReplayIn()).get("delivery_ids")
        queued = queue.requeue_dead(hooks.engine, sub.id, delivery_ids=ids, now=time.time())
        return json_response({"queued": queued}, 202)

    return blp
