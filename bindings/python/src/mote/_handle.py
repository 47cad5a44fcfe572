"""Ownership of one C handle: freed exactly once, never while a call is using it."""

import threading


class Handle:
    """Owns a handle and its free function.

    ``use()`` lends the handle for one C call and refuses a closed one; ``close()`` frees it
    at once, or refuses while a call (on another thread) still uses it, since freeing a
    handle in use is undefined behaviour in C.
    """

    def __init__(self, ptr, free, what):
        self._ptr = ptr
        self._free = free
        self._what = what
        self._users = 0
        self._lock = threading.Lock()

    @property
    def closed(self):
        return self._ptr is None

    def use(self):
        return _Use(self)

    def close(self):
        with self._lock:
            if self._ptr is None:
                return
            if self._users:
                raise RuntimeError(f"cannot close the {self._what}: a call is using it")
            ptr, self._ptr = self._ptr, None
        self._free(ptr)


class _Use:
    def __init__(self, handle):
        self._handle = handle

    def __enter__(self):
        h = self._handle
        with h._lock:
            if h._ptr is None:
                raise ValueError(f"the {h._what} is closed")
            h._users += 1
            return h._ptr

    def __exit__(self, *exc):
        with self._handle._lock:
            self._handle._users -= 1
        return False
