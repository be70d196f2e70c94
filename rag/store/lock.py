"""The knowledge base's cross-process write lock: `fcntl.flock` on `write.lock`, holder's pid written inside.

Trade-offs:
- flock locks belong to an open file description, so the kernel drops them when the holder dies, even on
  SIGKILL: there is no stale-lock cleanup to get wrong. The price is POSIX only, and unreliable on some
  network file systems (NFS may emulate flock with fcntl locks or not at all).
- The lock file is never deleted. Deleting it would let a newcomer lock a fresh inode while an old holder
  still holds the unlinked one.
- Waiting polls with LOCK_NB instead of blocking, so the wait can time out, and report on the way whom it
  waits for: the holder writes its pid, what it is doing and since when into the file. The line may be blank
  for the instant between the holder's flock and its write.
- Readers never take this lock; SQLite's WAL mode lets them read while a writer works.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import KBLocked

_POLL_SECONDS = 0.05
_REPORT_EVERY = 10.0  # seconds between "still waiting" reports


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as it wrote itself into the lock file."""

    pid: int | None
    doing: str = ""  # "ingesting", "removing a document", "rebuilding", ...
    since: float | None = None  # time.time() when it took the lock

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid else "another process"
        what = f", which is {self.doing}" if self.doing else ""
        since = f" (for {time.time() - self.since:.0f} s)" if self.since else ""
        return f"{who}{what}{since}"


Waiting = Callable[[Holder, float], None]  # (holder, seconds waited so far)


class WriteLock:
    """One acquisition of the lock. Acquire with `acquire()`, give it back with `release()`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float, doing: str = "writing", on_wait: Waiting | None = None) -> None:
        """Take the lock, waiting up to `timeout` seconds for the holder; `on_wait` hears about the wait
        when it starts and every few seconds after."""
        # O_RDWR without O_TRUNC: truncating before we hold the lock would erase the holder's line.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        started = time.monotonic()
        reported = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise KBLocked(
                        f"the knowledge base is busy: {holder.describe()} (lock file {self.path}). Waited "
                        f"{waited:.0f} s (setting lock_timeout); try again when it has finished.") from None
                if on_wait and (reported is None or waited - reported >= _REPORT_EVERY):
                    on_wait(_read_holder(fd), waited)
                    reported = waited
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        line = f"{os.getpid()}\t{time.time():.0f}\t{' '.join(doing.split())}\n"
        os.pwrite(fd, line.encode("utf-8", "replace"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # a blank file means "nobody", so a stale pid never misleads
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def _read_holder(fd: int) -> Holder:
    try:
        pid, since, doing = os.pread(fd, 512, 0).decode("utf-8", "replace").rstrip("\n").split("\t", 2)
        return Holder(int(pid), doing, float(since))
    except (OSError, ValueError):
        return Holder(None)
