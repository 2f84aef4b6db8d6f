"""Change events: the outbox, subscriptions and signed webhook delivery.

- `envelope`: CloudEvents 1.0 JSON envelopes and event ids.
- `signing`: Standard Webhooks signatures and `whsec_` secrets.
- `ssrf`: which target addresses may be reached.
- `transport`: POSTs over connections pinned to the checked addresses.
- `tables`: the tables in the wrapper's own state database.
- `subscriptions`: subscriptions and their signing secrets.
- `outbox`: appending events, fanning them out into deliveries, replays.
- `queue`: claiming due deliveries, recording attempts, redelivery.
- `delivery_log`: a subscription's deliveries and attempts, the backlog.
- `retry`: the retry schedule and when an endpoint is disabled.
- `delivery`: the engine that sends due deliveries.
- `errors`: the package's exceptions.
- `capture/`: finding the changes of legacy tables (watermarks, range checksums).
- `worker`: capture, dispatch and delivery loops; `status`: lag and backlog;
  `commands`: `legacy-wrapper worker` and `legacy-wrapper events status`.
"""
