"""Statements compiled once and run on the DBAPI cursor: the hot path of `select`.

SQLAlchemy builds, compiles and pools; executing a small indexed read through
a `Connection` costs more than the read itself (execution context, parameter
construction, result metadata). A `CompiledSelect` keeps what its statement
needs for every run: the SQL text and the order in which its parameters are
bound, with the dialect's bind processors (one text per list length for `IN`
lists), and the dialect's result processors (chosen once per set of column
types the cursor reports). A read is then a pool checkout, `execute` and
`fetchall`, with the values typed exactly as SQLAlchemy would have typed them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TupleType

Processor = Callable[[Any], Any] | None
_FORMS = 64  # texts kept per statement (one per combination of list lengths)


class _Form:
    """The SQL text for one combination of list lengths, and how to bind it."""

    def __init__(self, compiled: Any, params: Mapping[str, Any]) -> None:
        state = compiled.construct_expanded_state(params)
        self.sql: str = state.statement
        self.positional = state.positiontup is not None
        self.names: tuple[str, ...] = tuple(state.positiontup or state.parameters)
        item_of = {
            name: (base, index)
            for base, names in state.parameter_expansion.items()
            for index, name in enumerate(names)
        }
        sources = []
        for name in self.names:
            if name in item_of:
                source: tuple[Any, ...] = ("item", *item_of[name])
            elif name in params:
                source = ("param", name, None)
            else:  # a value the statement carries itself (SQLite's OFFSET default)
                source = ("const", state.parameters[name], None)
            process = state.processors.get(name) or compiled._bind_processors.get(name)
            sources.append((*source, process))
        self.sources = tuple(sources)

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        out = []
        for kind, a, b, process in self.sources:
            value = params[a] if kind == "param" else params[a][b] if kind == "item" else a
            out.append(value if process is None else process(value))
        return tuple(out) if self.positional else dict(zip(self.names, out, strict=True))


class CompiledSelect:
    """One statement shape compiled for one dialect."""

    def __init__(self, stmt: sa.Select, dialect: Dialect) -> None:
        self.dialect = dialect
        self.compiled = stmt.compile(dialect=dialect)
        binds = self.compiled.binds.values()
        self.expanding = tuple(b.key for b in binds if b.expanding)
        # Lists of tuples (composite `IN`) keep SQLAlchemy's execution.
        self.supported = not any(isinstance(b.type, TupleType) for b in binds)
        self._forms: dict[tuple[int, ...], _Form] = {}
        self._results: dict[tuple[Any, ...], tuple[Processor, ...] | None] = {}
        self._type_codes = _psycopg_codes if dialect.driver == "psycopg" else _dbapi_codes

    def bind(self, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL text and the DBAPI parameters for these values."""
        lengths = tuple(len(params[name]) for name in self.expanding)
        form = self._forms.get(lengths)
        if form is None:
            if len(self._forms) >= _FORMS:
                self._forms.clear()
            form = self._forms[lengths] = _Form(self.compiled, params)
        return form.sql, form.values(params)

    def rows(self, cursor: Any) -> list[Sequence[Any]]:
        """The cursor's rows, each value through the dialect's result processor."""
        rows = cursor.fetchall()
        codes = self._type_codes(cursor)
        processors = self._results.get(codes, False)
        if processors is False:
            processors = self._results[codes] = self._processors(codes)
        if processors is None:
            return rows
        pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
        typed = []
        for row in rows:
            values = list(row)
            for i, process in pairs:
                values[i] = process(values[i])
            typed.append(tuple(values))
        return typed

    def _processors(self, codes: tuple[Any, ...]) -> tuple[Processor, ...] | None:
        columns = self.compiled._result_columns
        found = tuple(
            column.type._cached_result_processor(self.dialect, code)
            for column, code in zip(columns, codes, strict=True)
        )
        return found if any(found) else None


def _dbapi_codes(cursor: Any) -> tuple[Any, ...]:
    return tuple(column[1] for column in cursor.description)


def _psycopg_codes(cursor: Any) -> tuple[Any, ...]:
    """`description`'s type codes (OIDs) read off the result: psycopg builds a
    `Column` object per column for `description`, on every read."""
    result = cursor.pgresult
    if result is None:
        return _dbapi_codes(cursor)
    return tuple(map(result.ftype, range(result.nfields)))
