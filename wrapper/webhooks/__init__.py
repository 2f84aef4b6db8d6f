"""The subscriptions API (`/vN/webhooks`): HTTP over `wrapper/events`.

- `service`: what the views share (the state database, visibility, the SSRF
  allowlist, who is calling) and request parsing;
- `schemas`: request and response bodies for validation and the documents;
- `views`: the blueprint of one API version.
"""

from __future__ import annotations

from collections.abc import Callable

from wrapper.auth.policy import Policy
from wrapper.auth.principal import Principal
from wrapper.config import Config
from wrapper.events import tables
from wrapper.events.visibility import Visibility
from wrapper.mapping.model import Mapping
from wrapper.webhooks.service import SCOPE, Webhooks

__all__ = ["SCOPE", "Webhooks", "open_webhooks"]


def open_webhooks(
    config: Config,
    mapping: Mapping,
    authenticate: Callable[[], Principal | None],
    policy: Policy | None = None,
) -> Webhooks:
    """Opens (and creates when missing) the events tables in the state database."""
    return Webhooks(
        engine=tables.connect(config.state.url),
        visibility=Visibility(mapping, policy),
        config=config.webhooks,
        policy=config.webhooks.policy,
        authenticate=authenticate,
        source_base=config.public_url or "",
    )
