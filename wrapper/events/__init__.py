"""Change events: the outbox, subscriptions and signed webhook delivery.

- `envelope`: CloudEvents 1.0 JSON envelopes and event ids.
- `signing`: Standard Webhooks signatures and `whsec_` secrets.
- `ssrf`: which target addresses may be reached, and a network backend that
  connects only to the address it checked.
- `tables`: the tables in the wrapper's own state database.
- `subscriptions`: subscriptions and their signing secrets.
- `outbox`: appending events, fanning them out into deliveries, replays.
- `queue`: claiming due deliveries, recording attempts, the delivery log.
- `retry`: the retry schedule and when an endpoint is disabled.
- `delivery`: the engine that POSTs due deliveries.
"""
