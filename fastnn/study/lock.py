"""One study per folder at a time: an OS file lock on the output folder.

``fcntl.flock`` on ``<out>/.study.lock``: a second study on the same folder (another process,
here or on another machine sharing the folder where the file system supports locks) is
refused at once, with the process and host that hold the lock. The operating system
releases the lock when its process ends, however it ends, so a killed study never blocks
the next one.
"""
import fcntl
import os
import socket
import time
from pathlib import Path

from .config import StudyError

LOCK = ".study.lock"


class StudyLock:
    """Context manager holding the folder's lock; raises StudyError if another process holds it."""

    def __init__(self, out):
        self.path = Path(out) / LOCK
        self.fd = None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StudyError(f"{self.path.parent} is in use by another study ({holder}); wait for it to finish, "
                             f"or use another --out folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}"
                     .encode())
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
        return False
