"""The garbage collector paused while a batch of objects that outlive the block is made.

A consumer's batch parses up to thousands of events, and a re-match makes tens of thousands of
candidates: objects that live until the batch ends and hold no cycle. While they are made,
every few hundred allocations set off a collection that walks all of those made so far again,
and full ones the whole heap (a rebuild from offset 0 spent three times as long in the
collector as in validating its records). Paused, the block makes them without walking them
over and over; the collector takes up again after it. A pause holds no `await`, so the
collector is never kept off while other tasks run; pauses may still nest (a re-match inside a
handler), and the collector takes up again when the outermost ends, unless it was off before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_open = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block (see the module docstring)."""
    global _open, _was_enabled
    with _lock:
        if _open == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _was_enabled:
                gc.enable()
