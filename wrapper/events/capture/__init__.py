"""Change capture: finding what changed in a legacy table that cannot be changed.

Nothing here writes to the legacy database: capture reads it through the
source adapter and keeps what it needs in the wrapper's state database.

- `values`: legacy values as text (keys, watermarks) and per-column hashes.
- `tables`: capture's tables in the state database.
- `unit`: what one resource's capture reads, and how each version renders it.
- `diff`: rows read against what was seen before: created, updated, deleted.
- `emit`: changes as events, one per API version serving the resource.
- `store`: per-key state, the unit's watermark, the atomic commit with the outbox.
- `lease`: one capture leader per resource at a time.
- `watermark`: polling a last-update column or an ever-increasing one.
- `snapshot`: a full read compared key by key (sources without range checksums).
- `ranges`: range checksums in the legacy database, bisecting only what differs.
- `runner`: the poll loop of every captured resource.
"""
