"""Legacy sources reached through ODBC drivers (`odbc:` connection strings).

Importing this package does not import pyodbc: that happens when a source is
opened or the installed drivers are listed.
"""

from legacy_adapters.odbc.source import OdbcSource

__all__ = ["OdbcSource"]
