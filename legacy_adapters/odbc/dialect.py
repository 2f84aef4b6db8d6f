"""A small SQLAlchemy dialect for a database reached only through ODBC.

Statements are built with SQLAlchemy Core (`legacy_adapters.sql.statements`)
and compiled here into `?`-parameter SQL for the DBMS behind the driver:
identifiers quoted with the driver's `SQL_IDENTIFIER_QUOTE_CHAR`, pages
limited in the profile's paging form, LIKE escapes written as the DBMS reads
string literals. Only generic SQLAlchemy types are used; nothing here
executes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql import compiler

from legacy_adapters.base import UnsupportedQuery
from legacy_adapters.odbc.profiles import DbmsProfile
from legacy_adapters.sql.statements import Paginate, limit_offset

ROW_NUMBER = "lw_rn"


class _Preparer(compiler.IdentifierPreparer):
    """Quotes every identifier: names come from reflection with their exact case, and
    each DBMS has reserved words of its own that a generic list would miss."""

    def _requires_quotes(self, value: str) -> bool:
        return True


class _Unquoted(compiler.IdentifierPreparer):
    """For a driver that reports no quote character: plain names only."""

    def quote(self, ident: str, force: Any = None) -> str:
        if not ident.replace("_", "").replace("$", "").replace("#", "").isalnum():
            raise UnsupportedQuery(f"the ODBC driver cannot quote the name {ident!r}")
        return ident

    def _requires_quotes(self, value: str) -> bool:
        return False


class _Compiler(compiler.SQLCompiler):
    dialect: OdbcDialect

    def limit_clause(self, select: sa.Select, **kw: Any) -> str:
        profile = self.dialect.profile
        limit, offset = select._limit_clause, select._offset_clause
        if profile.paging == "limit_offset":
            text = ""
            if limit is not None:
                text += "\n LIMIT " + self.process(limit, **kw)
            elif offset is not None and profile.limit_all is not None:
                text += "\n LIMIT " + profile.limit_all
            if offset is not None:
                text += " OFFSET " + self.process(offset, **kw)
            return text
        if profile.paging == "fetch_first":
            text = ""
            if offset is not None:
                text += "\n OFFSET " + self.process(offset, **kw) + " ROWS"
            if limit is not None:
                text += "\n FETCH FIRST " + self.process(limit, **kw) + " ROWS ONLY"
            return text
        return ""  # TOP is written before the columns; ROWNUM and ROW_NUMBER are predicates

    def get_select_precolumns(self, select: sa.Select, **kw: Any) -> str:
        text = super().get_select_precolumns(select, **kw)
        limit = select._limit_clause
        if self.dialect.profile.paging == "top" and limit is not None:
            text += "TOP " + self.process(limit, **kw) + " "
        return text

    def get_render_as_alias_suffix(self, alias_name_text: str) -> str:
        if self.dialect.profile.alias_as:
            return super().get_render_as_alias_suffix(alias_name_text)
        return " " + alias_name_text

    def render_literal_value(self, value: Any, type_: Any) -> str:
        text = super().render_literal_value(value, type_)
        if isinstance(value, str) and self.dialect.profile.backslash_literals:
            text = text.replace("\\", "\\\\")
        return text

    def visit_like_op_binary(self, binary: Any, operator: Any, **kw: Any) -> str:
        if not self.dialect.like_escape and "escape" in binary.modifiers:
            binary = binary._clone()
            binary.modifiers = {k: v for k, v in binary.modifiers.items() if k != "escape"}
        return super().visit_like_op_binary(binary, operator, **kw)


class OdbcDialect(DefaultDialect):
    """Compiles Core statements for one ODBC data source."""

    name = "odbc"
    statement_compiler = _Compiler
    supports_statement_cache = True
    default_paramstyle = "qmark"

    def __init__(self, profile: DbmsProfile, *, quote: str, like_escape: bool) -> None:
        super().__init__(paramstyle="qmark")
        self.profile = profile
        self.like_escape = like_escape
        self.supports_native_decimal = profile.native_decimal
        self.tuple_in_values = profile.tuple_in_values
        quote = quote.strip()
        if quote:
            self.identifier_preparer = _Preparer(self, initial_quote=quote, escape_quote=quote)
        else:
            self.identifier_preparer = _Unquoted(self)


# ---------------------------------------------------------------------- paging


def paginator(profile: DbmsProfile) -> Paginate:
    """How `build_statement` limits a page for this profile's paging form."""
    if profile.paging in ("limit_offset", "fetch_first"):
        return limit_offset  # rendered by the compiler's limit_clause
    if profile.paging not in ("top", "rownum", "row_number"):
        raise ValueError(f"unknown paging form {profile.paging!r}")
    first_page = {"top": _top, "rownum": _rownum}.get(profile.paging)

    def paginate(
        stmt: sa.Select,
        order: Sequence[sa.ColumnElement[Any]],
        limit: sa.BindParameter | None,
        offset: sa.BindParameter | None,
    ) -> sa.Select:
        if first_page is not None and offset is None:
            return first_page(stmt, limit)
        return _row_number(profile, stmt, order, limit, offset)

    return paginate


def _top(stmt: sa.Select, limit: sa.BindParameter | None) -> sa.Select:
    if limit is None:
        return stmt
    # TOP takes a number, not a parameter, on most DBMSs: rendered into the SQL text
    # (the limit is part of the statement cache key for this paging form).
    return stmt.limit(sa.bindparam(limit.key, type_=sa.Integer(), literal_execute=True))


def _rownum(stmt: sa.Select, limit: sa.BindParameter | None) -> sa.Select:
    if limit is None:
        return stmt
    page = stmt.subquery("lw_page")
    return sa.select(*page.c).where(sa.literal_column("ROWNUM") <= limit)


def _row_number(
    profile: DbmsProfile,
    stmt: sa.Select,
    order: Sequence[sa.ColumnElement[Any]],
    limit: sa.BindParameter | None,
    offset: sa.BindParameter | None,
) -> sa.Select:
    if limit is None and offset is None:
        return stmt
    if not profile.window_functions:
        raise UnsupportedQuery("this legacy database cannot skip rows (no ROW_NUMBER)")
    numbered = stmt.order_by(None).add_columns(
        sa.func.row_number().over(order_by=list(order)).label(ROW_NUMBER)
    )
    page = numbered.subquery("lw_page")
    rn = page.c[ROW_NUMBER]
    conditions = []
    if offset is not None:
        conditions.append(rn > offset)
        if limit is not None:
            conditions.append(rn - offset <= limit)
    elif limit is not None:
        conditions.append(rn <= limit)
    columns = [c for c in page.c if c.key != ROW_NUMBER]
    return sa.select(*columns).where(*conditions).order_by(rn)
