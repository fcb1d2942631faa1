"""Ctrl-C and SIGTERM during `audit` and `gate`: stop collecting, still write the
snapshot and reports of what was collected, then exit 130 (SIGINT) or 143 (SIGTERM).
A second signal aborts at once with the default action."""
from __future__ import annotations

import os
import signal
from typing import Dict, Optional

from . import exitcodes

EXIT_CODES = {signal.SIGINT: exitcodes.INTERRUPTED_SIGINT,
              signal.SIGTERM: exitcodes.INTERRUPTED_SIGTERM}


class SignalLatch:
    """Catches the first SIGINT/SIGTERM for the duration of a `with` block.

    A Python-level handler (not loop.add_signal_handler) so one latch covers both the
    asyncio collection and the synchronous analysis and writing after it; inside the
    loop it reaches collect_fleet through Interrupt.fire (call_soon_threadsafe).
    """

    def __init__(self) -> None:
        from .collect import Interrupt  # asyncio and asyncssh: when a run starts, not at import
        self.interrupt = Interrupt()
        self.signum: Optional[int] = None
        self._old: Dict[int, object] = {}

    def __enter__(self) -> "SignalLatch":
        for sig in EXIT_CODES:
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None:
            # Second signal: the user means it. Default action, nothing more written.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        name = self.name
        # os.write, not print: a signal handler may run in the middle of another write.
        os.write(2, f"\nfleetaudit: {name} received: writing what was collected "
                    f"(send it again to abort at once)\n".encode())
        self.interrupt.fire(name)

    @property
    def name(self) -> Optional[str]:
        return signal.Signals(self.signum).name if self.signum is not None else None

    @property
    def exit_code(self) -> Optional[int]:
        return EXIT_CODES.get(self.signum) if self.signum is not None else None

    def mark(self, run: dict) -> None:
        """A signal after the collection ended still makes the run an interrupted one."""
        if self.signum is not None and isinstance(run, dict):
            run["interrupted"] = True
            run.setdefault("interrupted_by", self.name)
