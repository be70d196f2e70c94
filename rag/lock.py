"""The knowledge base's cross-process write lock: `fcntl.flock` on `write.lock`, holder's pid written inside.

Trade-offs:
- flock locks belong to an open file description, so the kernel drops them when the holder dies, even on
  SIGKILL: there is no stale-lock cleanup to get wrong. The price is POSIX only, and unreliable on some
  network file systems (NFS may emulate flock with fcntl locks or not at all).
- The lock file is never deleted. Deleting it would let a newcomer lock a fresh inode while an old holder
  still holds the unlinked one.
- Waiting polls with LOCK_NB instead of blocking, so the wait can time out and name the holder. The pid is
  read from the file and may be blank for the instant between the holder's flock and its write.
- Readers never take this lock; SQLite's WAL mode lets them read while a writer works.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from rag.errors import KBLocked

_POLL_SECONDS = 0.05


class WriteLock:
    """One acquisition of the lock. Acquire with `acquire()`, give it back with `release()`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> None:
        # O_RDWR without O_TRUNC: truncating before we hold the lock would erase the holder's pid.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    who = f"pid {holder}" if holder else "another process"
                    raise KBLocked(
                        f"KB is locked by {who} (lock file {self.path}); another ingest or upload is "
                        f"writing. Wait for it to finish and try again."
                    ) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # a blank file means "nobody", so a stale pid never misleads
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
