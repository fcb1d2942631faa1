"""Bounded reads from a host: a size cap enforced while the bytes stream in, and one
deadline per host that every phase (connect, exec, fetch, retries) spends from.

What was read lives in a Capture object owned by the caller, not in the read loop's
locals, so a timeout, a dropped connection or a cancelled run still has every byte
that arrived.
"""
from __future__ import annotations

import asyncio
import time
from typing import List, Optional, Tuple

CHUNK = 65536


class Capture:
    """Bytes received from one exec so far, never more than `cap`."""

    def __init__(self, cap: int):
        self.cap = cap
        self.chunks: List[bytes] = []
        self.size = 0
        self.first_at: Optional[float] = None  # wall clock of the first byte (the clock mark)
        self.overflow = False                  # the host had more to say than the cap
        self.eof = False

    def add(self, chunk: bytes) -> None:
        if self.first_at is None:
            self.first_at = time.time()
        room = self.cap - self.size
        if len(chunk) > room:
            chunk = chunk[:room]
            self.overflow = True
        if chunk:
            self.chunks.append(chunk)
            self.size += len(chunk)

    def data(self) -> bytes:
        return b"".join(self.chunks)


async def within(deadline: float, aw):
    """Await `aw` until `deadline` (loop time), else asyncio.TimeoutError.

    asyncio.timeout_at where it exists (3.11): `aw` runs in the caller's task, where
    wait_for made a task for it (~30 us more each time, six times per host). As with
    wait_for, a deadline already past does not start `aw` at all. wait_for on the 3.9
    this package supports."""
    remaining = deadline - asyncio.get_running_loop().time()
    if _timeout_at is None:
        return await asyncio.wait_for(aw, max(0.0, remaining))
    if remaining <= 0:
        if asyncio.iscoroutine(aw):
            aw.close()
        else:
            asyncio.ensure_future(aw).cancel()
        raise asyncio.TimeoutError()
    async with _timeout_at(deadline):
        return await aw


_timeout_at = getattr(asyncio, "timeout_at", None)


async def read_capped(stream, capture: Capture, deadline: float) -> None:
    """Read `stream` into `capture` until EOF, the cap, or `deadline` (loop time).

    Raises asyncio.TimeoutError at the deadline and the transport's errors when the
    connection drops; either way `capture` keeps what arrived. Stops reading at the cap
    (the caller closes the channel), so a host streaming gigabytes costs at most
    cap + one SSH window.
    """
    async def drain() -> None:
        while not capture.overflow:
            chunk = await stream.read(CHUNK)
            if not chunk:
                capture.eof = True
                return
            capture.add(chunk)

    # One timer for the whole loop (a wait_for per chunk made reading several times slower).
    await within(deadline, drain())


class Budget:
    """One host's deadline. Each phase gets min(its own timeout, what is left)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = asyncio.get_running_loop().time() + seconds

    def remaining(self) -> float:
        return self.end - asyncio.get_running_loop().time()

    def phase(self, timeout: float) -> Tuple[float, bool]:
        """(deadline in loop time, True when the host's deadline is the tighter one)."""
        now = asyncio.get_running_loop().time()
        if now + timeout < self.end:
            return now + timeout, False
        return self.end, True
