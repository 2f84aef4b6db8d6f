"""A small thread-safe LRU mapping: the bounded cache behind planned layouts, row
renderers, grants and views. Anything a caller can vary per request (`fields=`,
`sort=`, scopes) is kept in one of these, so memory stays bounded whatever the
callers ask."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU holds at least one entry")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value, or None; a hit costs a dictionary lookup (recency is updated
        only on insertion, which keeps hits lock-free)."""
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
