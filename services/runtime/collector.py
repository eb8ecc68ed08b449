"""The garbage collector paused while a batch of short-lived objects is made and let go.

A consumer's batch parses up to thousands of events, and a re-match makes tens of thousands of
candidates: objects that live until the batch ends and hold no cycle. Meanwhile every
collection their allocations set off walks all of them again, and a full one the whole heap (a
rebuild from offset 0 spent three times as long in the collector as in validating its records).
Paused, they are freed by their reference counts when the batch lets them go; the collector
takes up again after, cycles left meanwhile included. Pauses may overlap (several consumers'
batches awaiting the database at once): the collector takes up again when the last one ends,
unless it was off before the first began.
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
