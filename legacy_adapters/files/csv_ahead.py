"""Plain CSV chunks checked ahead, in a second process, while the loader inserts.

Loading a plain CSV file spends about an eighth of its time checking chunks
of text (`csv_plain.PlainText.check`: the regular expressions, the dates).
On a machine with a second core, `Ahead.start` runs `python -m
legacy_adapters.files.csv_ahead`, which reads the same file in the same
chunks (`csv_reader._Lines`) and writes, for each chunk in order, its
verdict with the chunk's length and CRC-32. The reading process then takes
a verdict only for a chunk of exactly those bytes (same length, same CRC-32,
so a file changed under the load is checked again where it differs), and
only if it has already arrived: it never waits, it checks the chunk itself
instead (the helper is still starting, or behind). Anything wrong with the
helper (it cannot start, it dies, it writes nonsense) only means that the
reading process checks every chunk itself, exactly as without it.

Each record the helper writes is `<BQI`: the verdict (0 not plain, 1 plain
with an empty typed field, 2 plain without one), the chunk's length in bytes
and its CRC-32.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

RECORD = struct.Struct("<BQI")
NOT_PLAIN, EMPTY, FILLED = 0, 1, 2
UNKNOWN = object()  # no verdict for this chunk: check it here
MIN_CHUNKS = 8  # smaller files are checked by the reading process alone
WAIT = False  # tests: wait for each verdict (the helper checks every chunk it can)


class Ahead:
    """The reading process's end: verdicts by chunk number, taken without waiting."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.pending = bytearray()
        self.verdicts: dict[int, tuple[int, int, int]] = {}
        self.received = 0  # records read so far: the next one is for this chunk number
        self.open = True
        self.used = 0  # verdicts taken (tests)

    @classmethod
    def start(cls, path: Path, config: dict[str, Any]) -> Ahead | None:
        """A helper checking `path`'s chunks, or None (one core, a small file, no process)."""
        from legacy_adapters.files import csv_reader

        if os.name != "posix" or _cores() < 2:
            return None
        if path.stat().st_size < MIN_CHUNKS * csv_reader.CHUNK_BYTES:
            return None
        config = dict(config, path=str(path), chunk_bytes=csv_reader.CHUNK_BYTES)
        search = os.pathsep.join(p for p in sys.path if p)
        env = dict(os.environ, PYTHONPATH=search)
        try:
            message = pickle.dumps(config)
            process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except Exception:  # an accelerator only: without it every chunk is checked here
            return None
        assert process.stdin is not None
        try:
            process.stdin.write(message)
            process.stdin.close()
            return cls(process)
        except OSError:
            _stop(process)
            return None

    def verdict(self, number: int, raw: bytes) -> object:
        """Chunk `number`'s verdict if the helper sent it for exactly `raw`, else UNKNOWN."""
        self._drain(number)
        while WAIT and self.open and self.received <= number:
            select.select([self.fd], [], [])
            self._drain(number)
        found = self.verdicts.pop(number, None)
        for old in [n for n in self.verdicts if n < number]:
            del self.verdicts[old]
        if found is None:
            return UNKNOWN
        verdict, length, crc = found
        if length != len(raw) or crc != zlib.crc32(raw) or verdict not in (0, 1, 2):
            return UNKNOWN
        self.used += 1
        return verdict

    def _drain(self, number: int) -> None:
        """Read what the helper wrote, up to chunk `number`'s record: the pipe holds the rest."""
        while self.open and self.received <= number:
            try:
                wanted = RECORD.size * (number + 1 - self.received) - len(self.pending)
                data = os.read(self.fd, wanted)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.open = False
                return
            self.pending += data
            whole = len(self.pending) - len(self.pending) % RECORD.size
            for record in RECORD.iter_unpack(self.pending[:whole]):
                self.verdicts[self.received] = record
                self.received += 1
            del self.pending[:whole]

    def close(self) -> None:
        self.open = False
        _stop(self.process)


def _stop(process: subprocess.Popen) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_ahead(config: dict[str, Any], out: Any) -> None:
    """The helper's work: one record per chunk of the file, as the reading process cuts it."""
    from legacy_adapters.files import csv_reader

    csv_reader.CHUNK_BYTES = config["chunk_bytes"]
    plain = config["plain"]
    skip = config["skip"]
    lines = csv_reader._Lines(Path(config["path"]), config["encoding"], config["bom"])
    try:
        for text, dirty in lines.chunks():
            verdict = NOT_PLAIN
            if skip:
                text, skip = csv_reader._drop_lines(text, skip), 0
            if text and not dirty:
                empty = plain.check(text)
                if empty is not None:
                    verdict = EMPTY if empty else FILLED
            out.write(RECORD.pack(verdict, len(lines.raw), zlib.crc32(lines.raw)))
            out.flush()
            if text is None:  # the reading process reads this file another way
                return
    finally:
        lines.close()


def main() -> None:
    config = pickle.load(sys.stdin.buffer)
    with contextlib.suppress(BrokenPipeError):
        check_ahead(config, sys.stdout.buffer)


if __name__ == "__main__":
    main()
