"""The reports rendered in a forked process (fleetaudit/render_pool.py): the same texts
as rendered here; a child that fails or dies costs a re-render here, never a report; a
renderer's own error still surfaces; small fleets and `--workers 1` do not fork."""
import json
import os
from pathlib import Path

import pytest

from fleetaudit import render_pool
from fleetaudit.render_pool import Rendering

DATA = Path(__file__).resolve().parent / "data" / "snapshots"


def test_child_texts_are_the_ones_made_here():
    parent = os.getpid()
    jobs = {"a": lambda: f"made in {'parent' if os.getpid() == parent else 'child'}",
            "b": lambda: "x" * 300_000}
    r = Rendering.start(jobs, hosts=10_000, workers=None)
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: nothing is forked")
    assert r.forked
    assert r.text("a") == "made in child"      # really rendered in the child
    assert r.text("b") == "x" * 300_000
    assert r.redone == {}


def test_failing_or_dying_child_is_redone_here():
    parent = os.getpid()

    def flaky():
        if os.getpid() != parent:
            raise RuntimeError("child broke")
        return "made here"
    r = Rendering.start({"a": flaky}, hosts=10_000, workers=2)
    if not r.forked:
        pytest.skip("one core: nothing is forked")
    assert r.text("a") == "made here" and "child broke" in r.redone["a"]

    def dies():
        if os.getpid() != parent:
            os._exit(3)
        return "made here too"
    r = Rendering.start({"a": dies, "b": lambda: "b"}, hosts=10_000, workers=2)
    assert r.text("a") == "made here too" and r.text("b") == "b" and "*" in r.redone


def test_renderer_error_still_raises():
    def broken():
        raise ValueError("template says no")
    r = Rendering.start({"a": broken}, hosts=10_000, workers=2)
    with pytest.raises(ValueError, match="template says no"):
        r.text("a")


def test_no_fork_when_it_cannot_pay():
    assert not Rendering.start({"a": lambda: "a"}, hosts=10_000, workers=1).forked
    assert not Rendering.start({"a": lambda: "a"}, hosts=render_pool.MIN_HOSTS - 1, workers=None).forked
    assert not Rendering.start({}, hosts=10_000, workers=None).forked


def test_report_outputs_same_with_forked_renderers(monkeypatch, tmp_path):
    """`fleetaudit report`: HTML, JUnit, Markdown and the snapshot identical whether the
    reports are rendered in a child (floor lowered to this capture's size) or here."""
    from click.testing import CliRunner
    from fleetaudit.cli import main
    monkeypatch.setattr(render_pool, "MIN_HOSTS", 1)
    started = []
    real = Rendering.start.__func__

    def spy(cls, jobs, hosts, workers):
        r = real(cls, jobs, hosts, workers)
        started.append(r.forked)
        return r
    monkeypatch.setattr(Rendering, "start", classmethod(spy))
    outs = {}
    for n in (1, 2):
        d = tmp_path / f"w{n}"
        d.mkdir()
        res = CliRunner().invoke(main, ["report", str(DATA / "demo-subset.json"), "--json", str(d / "s.json"),
                                        "--html", str(d / "r.html"), "--junit", str(d / "r.xml"),
                                        "--markdown", str(d / "r.md"), "--workers", str(n), "-q",
                                        "--fail-on", "none"])
        assert res.exit_code == 0, res.output
        outs[n] = {p.name: p.read_bytes() for p in d.iterdir()}
    assert started[0] is False
    if (os.cpu_count() or 1) > 1:
        assert started[1] is True
    assert len(outs[2]) == 4 and outs[2] == outs[1]
    assert b"<html" in outs[2]["r.html"] and json.loads(outs[2]["s.json"])["findings"]
