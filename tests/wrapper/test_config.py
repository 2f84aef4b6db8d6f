"""The configuration is checked once at start, and every problem names its line."""

from __future__ import annotations

import pytest

from wrapper.app import create_app
from wrapper.config import ConfigError, load_config, parse_config

from ..support.demo import demo_config


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, filename="w.yaml")
    return info.value.problems


def test_yaml_syntax_error_names_the_line() -> None:
    [problem] = problems_of("source:\n  url: x\nversions: [\n")
    assert problem.startswith("w.yaml:")
    assert "not valid YAML" in problem


def test_structural_problems_are_all_reported_with_lines() -> None:
    text = """\
source:
  url: sqlite:///x.db
  pool_size: -1
paging: {default_limit: 5000, max_limit: 1000}
versions:
  v1:
    resources:
      jobs:
        table: JOBSCHED
        fields:
          limit: LIM
          status: {column: STAT, filter: [eq, between]}
          Bad-Name: X
        relations:
          order: {resource: orders}
  version2: {}
"""
    problems = problems_of(text)
    joined = "\n".join(problems)
    assert "w.yaml:3: source.pool_size: must be greater than 0" in joined
    assert "w.yaml:4: paging" in joined
    assert (
        "w.yaml:11: versions.v1.resources.jobs.fields.limit: 'limit' is a query control" in joined
    )
    assert (
        "w.yaml:12: versions.v1.resources.jobs.fields.status.filter: unknown operators ['between']"
        in joined
    )
    assert "w.yaml:13: versions.v1.resources.jobs.fields.Bad-Name" in joined
    assert "w.yaml:15: versions.v1.resources.jobs.relations.order.on" in joined
    assert "w.yaml:16: versions.version2" in joined
    assert len(problems) == 7


def test_yaml_one_point_one_booleans_stay_strings() -> None:
    config = parse_config(
        "source: {url: 'sqlite://'}\nversions:\n  v1:\n    resources:\n      flags:\n"
        "        table: T\n        fields:\n          on: {column: 'ON', convert: {enum: {Y: yes, N: no}}}\n",
        filename="w.yaml",
    )
    field = config.versions[0].resources[0].fields[0]
    assert field.name == "on"
    assert field.convert == {"enum": {"Y": "yes", "N": "no"}}


def test_mapping_checked_against_the_legacy_schema(demo_url: str) -> None:
    text = (
        "source: {url: sqlite:///plant.db}\n"
        "versions:\n"
        "  v1:\n"
        "    resources:\n"
        "      jobs:\n"
        "        table: JOBSCHED\n"
        "        fields:\n"
        "          job_id: JOB_NO\n"
        "          status: {column: STATX}\n"
        "          due: {column: DUE_DT, convert: {date: MMDDYY}, filter: [gte]}\n"
        "      ghosts:\n"
        "        table: NO_SUCH_TABLE\n"
        "        fields: {a: A}\n"
        "      lines:\n"
        "        table: ORDLINE\n"
        "        fields: {order_no: ORD_NO}\n"
    )
    with pytest.raises(ConfigError) as info:
        create_app(demo_config(demo_url, text), no_auth=True)
    joined = "\n".join(info.value.problems)
    assert (
        "demo.yaml:9: versions.v1.resources.jobs.fields.status: column 'STATX' not found in JOBSCHED"
        in joined
    )
    assert (
        "demo.yaml:10: versions.v1.resources.jobs.fields.due.filter: the date converter cannot translate ['gte']"
        in joined
    )
    assert (
        "demo.yaml:11: versions.v1.resources.ghosts.table: table or view NO_SUCH_TABLE not found"
        in joined
    )
    assert (
        "demo.yaml:14: versions.v1.resources.lines.key: primary key columns ['LINE_NO']" in joined
    )


def test_demo_mapping_is_valid(app) -> None:
    state = app.extensions["legacy_wrapper"]
    assert set(state.mapping.versions) == {"v1", "v2"}
    v1 = state.mapping.versions["v1"].resources
    assert v1["order_lines"].key == ("order_no", "line_no")  # composite primary key
    assert v1["activity_log"].key == ()  # keyless table: list only
    assert v1["activity_log"].unique_tiebreak is False
    assert v1["jobs"].by_name["status"].filter_ops == {"eq", "ne", "in", "isnull"}


def test_limits_cache_and_bulkhead_sections_are_checked_with_lines() -> None:
    text = """\
source: {url: 'sqlite:///x.db', max_concurrent: 0, busy_after: 0}
limits:
  storage: memcached://x
  strategy: leaky-bucket
  default: 10 per fortnight
  scopes: {dashboards: 100/minute, reports: lots}
  clients: [a]
cache: {wait: 0}
versions:
  v1:
    resources:
      jobs:
        table: JOBSCHED
        fields: {job_id: JOB_NO}
        cache: {max_age: 0}
"""
    joined = "\n".join(problems_of(text))
    assert "w.yaml:1: source.max_concurrent: must be greater than 0" in joined
    assert "w.yaml:1: source.busy_after: must be greater than 0" in joined
    assert "w.yaml:3: limits.storage: use memory:// or redis://host:port/db" in joined
    assert "w.yaml:4: limits.strategy: one of ['fixed-window'" in joined
    assert "w.yaml:5: limits.default: '10 per fortnight' is not a rate" in joined
    assert "w.yaml:6: limits.scopes.reports: 'lots' is not a rate" in joined
    assert "w.yaml:7: limits.clients: a mapping of name: rate" in joined
    assert "w.yaml:8: cache.wait: must be greater than 0" in joined
    assert "w.yaml:15: versions.v1.resources.jobs.cache.max_age: whole seconds" in joined


def test_limits_and_cache_parse_into_frozen_settings() -> None:
    config = parse_config(
        """\
source: {url: 'sqlite:///x.db', pool_size: 3}
limits:
  storage: redis://127.0.0.1:6379/0
  strategy: moving-window
  default: 100/minute
  global: 1000/minute
  scopes: {dashboards: 600/minute}
  clients: {reporting-svc: 50/second}
cache: {storage: redis://127.0.0.1:6379/0, wait: 2}
versions:
  v1:
    resources:
      jobs: {table: JOBSCHED, fields: {job_id: JOB_NO}, cache: {max_age: 2}}
"""
    )
    assert config.limits.enabled and config.limits.strategy == "moving-window"
    assert config.limits.global_ == "1000/minute"
    assert config.limits.scopes == (("dashboards", "600/minute"),)
    assert config.limits.clients == (("reporting-svc", "50/second"),)
    assert config.cache.storage.startswith("redis://") and config.cache.wait == 2
    assert config.versions[0].resources[0].cache.max_age == 2
    source = config.sources["default"]
    assert source.bulkhead_size == 3 and source.bulkhead_wait == 5.0
    plain = parse_config(
        "source: {url: 'sqlite://'}\nversions: {v1: {resources: {j: {table: J, fields: {a: A}}}}}"
    )
    assert not plain.limits.enabled and plain.versions[0].resources[0].cache is None


@pytest.mark.parametrize(
    ("options", "threads", "size"),
    [
        ("pool_size: 5", None, 5),  # threads not known: the pool
        ("pool_size: 5", 1, 5),  # one thread: none to keep free
        ("pool_size: 5", 2, 1),  # serve's granian default: one thread kept free
        ("pool_size: 5", 8, 5),  # more threads than the pool
        ("pool_size: 5", 4, 3),
        ("pool_size: 5, max_concurrent: 4", 2, 4),  # written out: as written
    ],
)
def test_the_bulkhead_keeps_one_thread_free_unless_written_out(
    options: str, threads: int | None, size: int
) -> None:
    config = parse_config(
        f"source: {{url: 'sqlite://', {options}, busy_after: 2.5}}\n"
        "versions: {v1: {resources: {j: {table: J, fields: {a: A}}}}}"
    )
    source = config.sources["default"]
    assert source.bulkhead_size_under(threads) == size
    assert source.busy_after == 2.5


MINIMAL = "source: {url: 'sqlite:///x.db'}\nversions: {v1: {resources: {j: {table: J, fields: {a: A}}}}}\n"


def test_state_database_defaults_to_a_file_next_to_the_configuration(tmp_path) -> None:
    path = tmp_path / "conf" / "wrapper.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    assert (
        load_config(path).state.url == f"sqlite:///{(path.parent / 'wrapper-state.db').resolve()}"
    )
    assert parse_config(MINIMAL).state.url == "sqlite://"  # no file, no folder: in memory
    named = parse_config(MINIMAL + "state: own.db\n", base_dir=tmp_path)
    assert named.state.url == f"sqlite:///{(tmp_path / 'own.db').resolve()}"
    url = "postgresql+psycopg://wrapper@db/state"
    assert parse_config(MINIMAL + f"state: {{url: '{url}'}}\n").state.url == url


def test_auth_state_is_the_state_database(tmp_path) -> None:
    auth = "auth: {audience: api, state: auth.db}\n"
    config = parse_config(MINIMAL + auth, base_dir=tmp_path)  # an existing configuration
    assert config.state.url == config.auth.state == f"sqlite:///{(tmp_path / 'auth.db').resolve()}"
    config = parse_config(MINIMAL + "state: s.db\nauth: {audience: api}\n", base_dir=tmp_path)
    assert config.auth.state == config.state.url == f"sqlite:///{(tmp_path / 's.db').resolve()}"
    [problem] = problems_of(MINIMAL + "state: s.db\n" + auth)
    assert problem.startswith("w.yaml:3: state: auth.state names another database")


def test_public_url_and_cors_are_checked_with_lines() -> None:
    text = (
        MINIMAL.replace(
            "{v1: {resources:", "{v1: {public_url: 'ftp://x', cors: {origins: [x]}, resources:"
        )
        + "public_url: https://api.example.com/plant?x=1\n"
        + "cors: {origins: ['https://portal.example.com/app', '*'], max_age: -1, credentials: true}\n"
    )
    joined = "\n".join(problems_of(text))
    assert "w.yaml:2: versions.v1.public_url: an http(s) URL" in joined
    assert "w.yaml:2: versions.v1.cors.origins: a list of origins" in joined
    assert "w.yaml:3: public_url: an http(s) URL" in joined
    assert "w.yaml:4: cors.origins: a list of origins" in joined
    assert "w.yaml:4: cors.max_age: seconds, 0 to 86400" in joined
    assert "w.yaml:4: cors.credentials: unknown key" in joined


def test_public_url_and_cors_apply_per_version() -> None:
    text = MINIMAL.replace(
        "versions: {v1: {resources: {j: {table: J, fields: {a: A}}}}}",
        "versions:\n  v1: {resources: {j: {table: J, fields: {a: A}}}}\n"
        "  v2: {public_url: 'https://v2.example.com/', cors: {origins: []}, resources: {j: {table: J, fields: {a: A}}}}",
    )
    config = parse_config(
        text
        + "public_url: https://API.example.com/plant/\ncors: {origins: [HTTPS://Portal.example.com:8443]}\n"
    )
    assert config.version_public_url("v1") == "https://API.example.com/plant"
    assert config.version_public_url("v2") == "https://v2.example.com"
    assert config.version_cors("v1").origins == ("https://portal.example.com:8443",)
    assert config.version_cors("v1").max_age == 600
    assert config.version_cors("v2").origins == ()  # switched off for v2
