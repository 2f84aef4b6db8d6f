"""The next page's link keeps the request's query string as `urlencode` writes it,
with the new cursor where the old one was (or last)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from wrapper.read import ReadPath

ARGS = [
    [],
    [("limit", "50")],
    [("cursor", "old"), ("limit", "5"), ("a b", "c&d=é/?")],
    [("status[in]", "x,y"), ("sort", "-due_date,job_id"), ("cursor", "zz"), ("fields", "")],
    [("status", "x"), ("status", "y"), ("limit", "2")],  # the first value of each name
    [("\0", "\0"), ("cursor", "%00")],
]


@pytest.mark.parametrize("pairs", ARGS)
@pytest.mark.parametrize("cursor", ["AbC-_x", "a/b+c=", "\0"])
def test_the_next_query_is_the_request_s_with_the_new_cursor(
    pairs: list[tuple[str, str]], cursor: str
) -> None:
    read = ReadPath(None, None, None)  # type: ignore[arg-type]
    args = MultiDict(pairs)
    expected = args.to_dict()
    expected["cursor"] = cursor
    for _ in range(2):  # encoded, then from the remembered shape
        assert read.next_query(args, cursor) == urlencode(expected)
