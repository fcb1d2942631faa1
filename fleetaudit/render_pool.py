"""The report renderers in a forked process while this one writes the snapshot.

After the analysis, an audit of a large fleet spends seconds in one process on outputs
that do not depend on each other: the snapshot's JSON text (to_json + dumps) and the
HTML, JUnit and Markdown reports. With more than one core (and `--workers` not 1),
`Rendering.start` forks one process that renders the reports (text only) and sends them
back, while this process builds and writes the snapshot; the texts are then written
here, in the usual order, by the usual code. The child renders from a copy of the same
objects with the same functions, so the texts are the ones this process would make.

Fails safe: without fork, with another thread alive, for a small fleet, or when the
child fails in any way (an exception in a renderer, a crash, a result that does not
unpickle), each report is rendered here instead, so a renderer's error surfaces exactly
as it would without the child. Nothing here prints.
"""
from __future__ import annotations

import gc
import os
import signal
from typing import Callable, Dict, Optional

# Below this many hosts the reports take a few tens of ms: a fork costs more.
MIN_HOSTS = 500

Job = Callable[[], str]


def _child(jobs: Dict[str, Job], conn) -> None:
    gc.disable()   # a short-lived copy of a big heap
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides on ^C
    out: Dict[str, tuple] = {}
    try:
        for name, job in jobs.items():
            try:
                out[name] = ("ok", job())
            except BaseException as exc:   # rendered again in the parent, which raises it
                out[name] = ("error", f"{type(exc).__name__}: {exc}"[:300])
        conn.send(out)
    except BaseException:
        pass
    finally:
        conn.close()


class Rendering:
    """Report texts by name: from the forked child when it made them, else made here."""

    def __init__(self, jobs: Dict[str, Job]):
        self.jobs = dict(jobs)
        self._proc = None
        self._conn = None
        self._got: Optional[Dict[str, tuple]] = None
        self.forked = False
        self.redone: Dict[str, str] = {}   # name -> why it was rendered here after all

    @classmethod
    def start(cls, jobs: Dict[str, Job], hosts: int, workers: Optional[int]) -> "Rendering":
        """Fork the renderers when it can pay: more than one core, `workers` not 1, at
        least MIN_HOSTS hosts, and this process safe to fork (analysis_pool.why_not_fork)."""
        self = cls(jobs)
        if not self.jobs or workers == 1 or (os.cpu_count() or 1) < 2 or hosts < MIN_HOSTS:
            return self
        from .analysis_pool import fork_child, why_not_fork
        if why_not_fork() is not None:
            return self
        import multiprocessing
        try:
            proc, recv = fork_child(multiprocessing.get_context("fork"), _child,
                                    lambda send: (self.jobs, send), "fleetaudit-render")
        except OSError:
            return self
        self._proc, self._conn, self.forked = proc, recv, True
        return self

    def _collect(self) -> Dict[str, tuple]:
        if self._got is None:
            got: Dict[str, tuple] = {}
            if self._conn is not None:
                try:
                    got = self._conn.recv()
                except (EOFError, OSError, Exception) as exc:   # died, or did not unpickle
                    self.redone["*"] = f"{type(exc).__name__}: {exc}"[:300]
                    got = {}
                self._conn.close()
                self._proc.join()
            self._got = got
        return self._got

    def text(self, name: str) -> str:
        """The report `name` (a key of the jobs)."""
        if self.forked:
            status, value = self._collect().get(name, ("missing", "no text from the child"))
            if status == "ok":
                return value
            self.redone[name] = value
        return self.jobs[name]()

    def close(self) -> None:
        """Stop a child whose texts will not be read (an error elsewhere)."""
        if self._proc is not None and self._got is None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join()
            self._conn.close()
            self._got = {}
