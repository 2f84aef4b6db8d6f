"""pyodbc, loaded on first use, and what the ODBC driver manager has installed.

The pyodbc wheel links against the system's unixODBC (`libodbc.so.2`) and does
not bundle it, so it is imported only when an ODBC source is used; a missing
library becomes a clear `SourceUnavailable`, not an ImportError at start.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

from legacy_adapters.base import SourceUnavailable


@functools.cache
def load_pyodbc() -> ModuleType:
    try:
        import pyodbc
    except ImportError as err:
        raise SourceUnavailable(
            "ODBC sources need the unixODBC driver manager (Debian: apt-get install unixodbc) "
            f"and the pyodbc package: {err}"
        ) from None
    # The source pools its own connections; the driver manager's pool would keep
    # connections the source has dropped as broken.
    pyodbc.pooling = False
    return pyodbc


@dataclass(frozen=True)
class DataSource:
    name: str
    driver: str


@dataclass(frozen=True)
class Installed:
    """The ODBC drivers and data source names (DSNs) the driver manager knows."""

    drivers: tuple[str, ...]
    data_sources: tuple[DataSource, ...]

    def lines(self) -> list[str]:
        out = ["ODBC drivers:"]
        out += [f"  {name}" for name in self.drivers] or ["  (none installed)"]
        out.append("ODBC data sources (DSNs):")
        out += [f"  {ds.name:<24} {ds.driver}" for ds in self.data_sources] or ["  (none defined)"]
        out.append("Use one as --source 'odbc:DSN=NAME' or 'odbc:DRIVER={NAME};...'")
        return out


def installed() -> Installed:
    """What `pyodbc.drivers()` and `pyodbc.dataSources()` report."""
    pyodbc = load_pyodbc()
    return Installed(
        drivers=tuple(pyodbc.drivers()),
        data_sources=tuple(
            DataSource(name, driver) for name, driver in sorted(pyodbc.dataSources().items())
        ),
    )
