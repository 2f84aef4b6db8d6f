"""The demo: a generated 1998 plant database served with the demo mapping."""

from __future__ import annotations

import json
from pathlib import Path

MAPPING = Path(__file__).with_name("mapping.yaml")


def prepare_demo(workdir: Path, *, orders: int = 2000) -> Path:
    """Build the demo legacy database in `workdir` (once) and write a config
    pointing at it; returns the config path."""
    from fixtures import legacy_demo

    workdir.mkdir(parents=True, exist_ok=True)
    database = (workdir / "plant.db").resolve()
    marker = workdir / f".built-{orders}"
    if not marker.exists():
        database.unlink(missing_ok=True)
        legacy_demo.build(f"sqlite:///{database}", orders=orders)
        marker.touch()
    text = MAPPING.read_text(encoding="utf-8")
    config_path = workdir / "wrapper.yaml"
    url = json.dumps(f"sqlite:///{database}")  # a JSON string is a valid YAML scalar
    config_path.write_text(text.replace("url: sqlite:///plant.db", f"url: {url}"), encoding="utf-8")
    return config_path
