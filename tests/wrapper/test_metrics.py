"""/metrics with several workers: the sum over every worker's files, also while a
worker is starting or after one was killed before it sized its files."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from wrapper.metrics import Metrics

HELP = "Conditional requests answered 304"


def worker_file(folder: Path, pid: int, value: float) -> None:
    values = MmapedDict(str(folder / f"counter_{pid}.db"))
    values.write_value(mmap_key("lw_not_modified", "lw_not_modified_total", [], [], HELP), value, 0)
    values.close()


def test_workers_are_summed_and_an_unsized_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker_file(tmp_path, 101, 2)
    worker_file(tmp_path, 102, 3)
    (tmp_path / "counter_103.db").touch()  # a worker killed before it sized its file
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert "lw_not_modified_total 5.0" in Metrics().exposition().decode()
