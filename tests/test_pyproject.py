"""The package metadata builds without deprecation warnings, and every install
hint the command line prints names an extra that exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

from wrapper.sources import DIALECT_HINTS, DRIVER_HINTS

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


def test_the_license_is_an_spdx_expression() -> None:
    license = PYPROJECT["project"]["license"]
    assert isinstance(license, str)  # the table form stops building on 2027-02-18
    assert canonicalize_license_expression(license) == license == "Apache-2.0"


def test_the_build_backend_is_a_bounded_setuptools_that_reads_spdx_strings() -> None:
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    (setuptools,) = [r for r in requires if r.name == "setuptools"]
    assert not setuptools.specifier.contains("76.1.0")  # no SPDX `license` strings yet
    assert setuptools.specifier.contains("77.0.3")
    assert not setuptools.specifier.contains("200.0")  # bounded: a future major is not taken


def test_every_extra_the_hints_name_exists() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    named = {
        extra
        for hint in (*DRIVER_HINTS.values(), *DIALECT_HINTS.values())
        for extra in re.findall(r"legacy-wrapper\[(\w+)\]", hint)
    }
    assert named == {"oracle", "mssql", "db2"}
    assert named <= set(extras)
    for extra in named:
        assert all(Requirement(r).specifier for r in extras[extra])  # ranges, not bare names
