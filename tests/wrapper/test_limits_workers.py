"""Rate limits across real worker processes: Redis shares the count, memory:// is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wrapper.demo import plant

from ..support.demo import write_config
from ..support.servers import get, serving
from .test_cli import run


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("limited") / "plant.db"
    plant.build(f"sqlite:///{database}", orders=100)
    return database


def limited_config(folder: Path, database: Path, limits: str) -> Path:
    return write_config(folder, f"sqlite:///{database}", f"\nlimits: {limits}\n", auth=False)


def test_memory_limits_with_several_workers_are_refused(plant_db: Path, tmp_path: Path) -> None:
    config = limited_config(tmp_path, plant_db, "{storage: 'memory://', default: 10/minute}")
    code, out = run("serve", "--config", str(config), "--no-auth", "--workers", "4")
    assert code == 2
    assert "would admit 4N" in out and "redis://" in out


@pytest.mark.slow
def test_a_limit_of_n_admits_n_in_total_across_4_gunicorn_workers(
    plant_db: Path, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    limits = f"{{storage: '{redis_url}', key_prefix: {redis_prefix}, default: 10/minute}}"
    config = limited_config(tmp_path, plant_db, limits)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with serving(config, "--no-auth", "--workers", "4", env=env) as (base, _):
        statuses = [get(f"{base}/v1/jobs?limit=1")[0] for _ in range(40)]
        assert statuses.count(200) == 10, statuses
        assert statuses.count(429) == 30
        for _ in range(8):  # /metrics is not limited; any worker reports the sum of all
            status, body = get(f"{base}/metrics")
            assert status == 200
            assert 'lw_rate_limited_total{limit="client"} 30.0' in body.decode()
