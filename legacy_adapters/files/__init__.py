"""Legacy file exports: readers (CSV, fixed-width with copybooks, DBF) and the loader.

Each reader streams one file and yields decoded records or `RecordError`s
(`records.py`); `loader.load` streams a reader into an indexed SQLite table and
swaps it in atomically.
"""
