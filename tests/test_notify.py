"""--notify: a real HTTP server on 127.0.0.1 (http.server in a thread) receives the
webhook. One answers, one never answers in time, one fails with 500 then answers 200.
The CLI tests run `python -m fleetaudit.cli audit` as a subprocess against a host whose
port refuses connections (a real, unreachable run: exit 3), with and without working
webhooks, and check the exit code never moves.
"""
import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fleetaudit import exitcodes, notify, snapshot
from fleetaudit.compare.since import changes_since

ROOT = Path(__file__).resolve().parent.parent
SNAP = ROOT / "tests" / "data" / "snapshots" / "demo-subset.json"


class Hook:
    """A webhook receiver. `plan`: per request, an HTTP status to answer or 'hang'."""

    def __init__(self, plan=(200,), hang_s=3.0):
        self.plan, self.hang_s = list(plan), hang_s
        self.requests = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body, "t": time.monotonic()})
                step = hook.plan.pop(0) if len(hook.plan) > 1 else hook.plan[0]
                if step == "hang":
                    time.sleep(hook.hang_s)
                    step = 200
                try:
                    self.send_response(step)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up first
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def json(self, i=0):
        return json.loads(self.requests[i]["body"])


def drift_since():
    raw = json.loads(SNAP.read_text())
    before = copy.deepcopy(raw)
    before["findings"] = [f for f in raw["findings"] if f["category"] != "tls"] + [
        {"host": "good-1", "rule": "clock.skew", "category": "time", "severity": "medium",
         "title": "clock <!channel> @all skew", "evidence": [{"fact": "time.clock.skew_s"}]}]
    return changes_since(before, raw), raw


def test_webhook_receives_new_and_resolved_findings_as_json():
    since, raw = drift_since()
    payload = notify.build_payload(snapshot.load(SNAP), command="drift", since=since)
    with Hook() as hook:
        out = notify.send(hook.url, payload, timeout=2)
    assert out.ok and out.attempts == 1 and out.status == 200
    assert len(hook.requests) == 1
    req = hook.requests[0]
    assert req["path"] == "/hooks/T0KEN-secret"
    assert req["headers"]["Content-Type"].startswith("application/json")
    body = hook.json()
    tls = [f for f in raw["findings"] if f["category"] == "tls"]
    assert body["new"]["count"] == len(tls) == 1
    assert body["new"]["items"][0] == {k: tls[0][k] for k in ("host", "rule", "category", "severity", "title")}
    assert body["resolved"]["count"] == 1 and body["resolved"]["items"][0]["host"] == "good-1"
    assert body["persisting"]["count"] == len(raw["findings"]) - 1
    assert body["hosts"] == {"ok": 6, "partial": 0, "unreachable": 0}
    text = body["text"]
    assert text.startswith("fleetaudit drift .lab/dev/inventory.ini: 6 hosts")
    assert "1 new, 1 resolved" in text and tls[0]["title"] in text
    # host-provided text cannot ping a channel or inject Slack markup
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "@all" not in text and "@\u200ball" in text
    # nothing beyond what the report shows: no evidence values, no facts
    flat = json.dumps(body)
    assert "evidence" not in flat and "facts\"" not in flat


def test_a_webhook_that_never_answers_times_out_and_retries():
    with Hook(plan=["hang"], hang_s=3) as hook:
        t0 = time.monotonic()
        out = notify.send(hook.url, {"text": "x"}, timeout=0.5, retries=1, backoff=0.1)
        took = time.monotonic() - t0
    assert not out.ok and out.attempts == 2 and len(hook.requests) == 2
    assert "no answer within 0.5 s" in out.error
    assert took < 2.5, took
    assert "T0KEN" not in out.url and out.url.startswith("http://127.0.0.1:")


def test_500_then_200_is_retried_with_backoff():
    with Hook(plan=[500, 200]) as hook:
        out = notify.send(hook.url, {"text": "x"}, timeout=2, retries=2, backoff=0.2)
    assert out.ok and out.attempts == 2 and out.status == 200
    assert len(hook.requests) == 2
    assert hook.requests[1]["t"] - hook.requests[0]["t"] >= 0.2  # it waited before retrying


def test_a_client_error_is_not_retried_and_bad_schemes_are_refused():
    with Hook(plan=[404]) as hook:
        out = notify.send(hook.url, {"text": "x"}, timeout=2, retries=2, backoff=0.01)
    assert not out.ok and out.attempts == 1 and out.error == "HTTP 404"
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x", "http:///nohost"):
        with pytest.raises(notify.NotifyURLError):
            notify.check_url(url)
        assert not notify.send(url, {}).ok


# ------------------------------------------------------------------ through the CLI

def refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return port


def audit(tmp_path, *extra):
    inv = tmp_path / "inv.yml"
    inv.write_text("fleetaudit: 1\nhosts:\n  gone-1:\n    address: 127.0.0.1\n"
                   f"    port: {refused_port()}\n    user: root\n")
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "audit", "-i", str(inv), "-q",
         "--known-hosts", str(kh), "--retries", "0", "--connect-timeout", "2",
         "--reports-dir", str(tmp_path / "reports"), *map(str, extra)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)


def test_cli_exit_code_is_the_runs_whatever_the_webhooks_do(tmp_path):
    plain = audit(tmp_path)
    assert plain.returncode == exitcodes.NOT_AUDITED, plain.stderr
    assert plain.stderr == ""
    with Hook() as good, Hook(plan=["hang"], hang_s=2) as slow, Hook(plan=[500, 200]) as flaky:
        res = audit(tmp_path, "--notify", good.url, "--notify", slow.url, "--notify", flaky.url,
                    "--notify-timeout", "0.3", "--prom", tmp_path / "fa.prom")
    assert res.returncode == plain.returncode == exitcodes.NOT_AUDITED
    body = good.json()
    assert body["command"] == "audit" and body["hosts"]["unreachable"] == 1
    assert body["new"] is None  # an audit has no last run to compare with
    assert len(flaky.requests) == 2 and flaky.json(1) == body
    assert len(slow.requests) == 3  # the first try and 2 retries
    warnings = [l for l in res.stderr.splitlines() if l.startswith("fleetaudit: warning: --notify")]
    assert len(warnings) == 1 and "no answer within 0.3 s" in warnings[0]
    assert "T0KEN" not in res.stderr, "webhook tokens stay out of logs"
    assert "fleetaudit_hosts{" in (tmp_path / "fa.prom").read_text()


def test_cli_unwritable_prom_and_dead_webhook_are_warnings_only(tmp_path):
    res = audit(tmp_path, "--notify", f"http://127.0.0.1:{refused_port()}/x",
                "--prom", tmp_path / "no-such-dir" / "fa.prom")
    assert res.returncode == exitcodes.NOT_AUDITED
    assert "warning: --prom" in res.stderr and "warning: --notify http://127.0.0.1:" in res.stderr
    bad = audit(tmp_path, "--notify", "file:///etc/passwd")
    assert bad.returncode == exitcodes.USAGE
    assert "only http:// and https:// URLs" in bad.stderr


def test_gate_writes_prom_with_its_verdicts_and_keeps_its_exit_code(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    inv = tmp_path / "inv.yml"
    inv.write_text("fleetaudit: 1\nhosts:\n  gone-1:\n    address: 127.0.0.1\n"
                   f"    port: {refused_port()}\n    user: root\n")
    (tmp_path / "kh").write_text("")
    prom = tmp_path / "gate.prom"
    res = subprocess.run(
        [sys.executable, "-m", "fleetaudit.cli", "gate", "-i", str(inv), "--image", "registry.example/app:1",
         "-q", "--known-hosts", str(tmp_path / "kh"), "--retries", "0", "--no-manifest-check",
         "--prom", str(prom)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert res.returncode == exitcodes.NOT_AUDITED, res.stderr
    samples = {(s.name, s.labels.get("verdict") or s.labels.get("status")): s.value
               for fam in text_string_to_metric_families(prom.read_text()) for s in fam.samples
               if s.labels["command"] == "gate" and s.labels["inventory"] == "inv"}
    assert samples[("fleetaudit_gate_verdicts", "unknown")] == 1
    assert samples[("fleetaudit_hosts", "unreachable")] == 1
