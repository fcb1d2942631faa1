"""Secrets never leave the host, on a real lab host: every form issue 7 found leaking is
planted (daemon.json log-opts and scheme-less proxies, a drop-in, env files,
/etc/environment, root's config.json, the daemon log with Go maps, escaped JSON and
Bearer/Token headers, a log line the host shortens, secrets straddling the part cap and
the proxy collector's 64 KiB cap), then EVERY artifact of an audit and a gate run, and
the raw bytes each host sends for the composite script, are searched for each secret
and for every 8-character piece of it."""
import base64
import json
import secrets as pysecrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetaudit.collectors import REGISTRY
from fleetaudit.history import open_store
from fleetaudit.script import ScriptOptions, build_script, new_nonce
from lab.fleet import Fleet, HostSpec

pytestmark = pytest.mark.fleet

FLEETAUDIT = [sys.executable, "-m", "fleetaudit.cli"]
HOST = "sec-1"
HOST2 = "sec-2"
PROXY = "proxy.fleet.test:3128"
PART_CAP = ScriptOptions().part_cap_bytes
PROXY_JSON_CAP = 65536          # the proxy collector's own cut of daemon.json


def _secret(prefix: str, n: int = 12) -> str:
    return prefix + pysecrets.token_hex(n)


def _pad_to(doc_prefix: str, target: int, key: str, entry) -> str:
    """A JSON list member `"key": [...]` that ends doc_prefix + it at about target bytes."""
    items, size = [], len(doc_prefix) + len(key) + 8
    i = 0
    while size < target:
        item = json.dumps(entry(i))
        items.append(item)
        size += len(item) + 2
        i += 1
    return f'"{key}": [' + ", ".join(items) + "]"


def plant():
    """({host: files}, {form: secret}) for two docker hosts."""
    s = {
        "daemon.json scheme-less proxy, raw @": _secret("DjP@ss@"),
        "daemon.json log-opts splunk-token across the part cap": _secret("SplkCap", 1600),
        "daemon.json proxy URL password (with ') across the proxy collector's 64 KiB cap":
            _secret("PxCu't", 600),
        "drop-in scheme-less HTTPS_PROXY": _secret("Dr0p@"),
        "drop-in SPLUNK_TOKEN": _secret("DrTok"),
        "drop-in quoted API_KEY with blanks": "Ak " + _secret("k") + " " + _secret("k"),
        "env file scheme-less HTTP_PROXY": _secret("EnvF@"),
        "env file DOCKER_OPTS --log-opt splunk-token": _secret("OptTok"),
        "env file client_secret": _secret("ClSec"),
        "/etc/environment proxy with quote and @": _secret("Etc'P@"),
        "/etc/environment ACCESS_TOKEN": _secret("EtcTok"),
        "config.json auth": None,   # filled below (base64 of user:password)
        "config.json HttpHeaders Authorization": _secret("CfgBearer"),
        "config.json proxies httpProxy": _secret("CfgPx"),
        "log Go map Authorization Basic": _secret("GoMapBasic"),
        "log Bearer header": _secret("LogBearer"),
        "log Token header, upper case": _secret("LOGTOKEN").upper(),
        "log escaped JSON password": _secret("EscPw"),
        "log escaped JSON Authorization": _secret("EscAuth"),
        "log X-Registry-Auth in a Go map": _secret("XRegAuth"),
        "log Go map splunk-token": _secret("GoSplk"),
        "log containerd URL userinfo": _secret("CtrdUrl"),
        "log raw Authorization = value": _secret("RawAuth"),
        "log line the host shortens (secret where the tail starts)": _secret("Short", 40),
    }
    reg_pw = _secret("RegPw")
    s["config.json auth"] = base64.b64encode(f"bob:{reg_pw}".encode()).decode()
    s["config.json registry password"] = reg_pw

    # sec-1 runs dockerd: its daemon.json pads a splunk "tag" so that the part cap lands
    # inside the splunk token. sec-2's daemon.json has scheme-less and URL proxies, padded
    # with labels so that the proxy collector's 64 KiB cut lands inside a password; the
    # lab's Docker (20.10) predates "proxies" and refuses it, as such a host would.
    doc = ('{\n "log-driver": "splunk",\n "log-opts": {"splunk-url": "https://splunk.fleet.test:8088", '
           '"splunk-index": "docker", "tag": "')
    doc += "t" * (PART_CAP - 1300 - len(doc)) + '", "splunk-token": "'
    doc += s["daemon.json log-opts splunk-token across the part cap"] + '"}\n}\n'
    token_at = doc.index(s["daemon.json log-opts splunk-token across the part cap"])
    assert token_at < PART_CAP < token_at + 3200, "the part cap must land inside the token"
    json.loads(doc)
    head = '{\n '
    pad = _pad_to(head, PROXY_JSON_CAP - 900, "labels",
                  lambda i: f"pad.label{i:05d}=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    proxy_doc = (head + pad + ',\n "proxies": {"http-proxy": "pxuser:'
                 + s["daemon.json scheme-less proxy, raw @"] + '@' + PROXY + '", "https-proxy": "http://pxu:'
                 + s["daemon.json proxy URL password (with ') across the proxy collector's 64 KiB cap"]
                 + "@" + PROXY + '", "no-proxy": "localhost,.fleet.test"}\n}\n')
    cut_in = proxy_doc.index(s["daemon.json proxy URL password (with ') across the proxy collector's 64 KiB cap"])
    assert cut_in < PROXY_JSON_CAP < cut_in + 1200, "the 64 KiB cut must land in the password"
    json.loads(proxy_doc)

    dropin = ("[Service]\n"
              f'Environment="HTTPS_PROXY=dropuser:{s["drop-in scheme-less HTTPS_PROXY"]}@{PROXY}" '
              '"NO_PROXY=localhost,.fleet.test"\n'
              f'Environment="SPLUNK_TOKEN={s["drop-in SPLUNK_TOKEN"]}" '
              f'"API_KEY={s["drop-in quoted API_KEY with blanks"]}"\n')
    defaults = (f'HTTP_PROXY=envuser:{s["env file scheme-less HTTP_PROXY"]}@{PROXY}\n'
                f'DOCKER_OPTS="--log-opt splunk-token={s["env file DOCKER_OPTS --log-opt splunk-token"]}"\n'
                f'client_secret={s["env file client_secret"]}\n')
    environment = ('PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'
                   f'https_proxy="etcuser:{s["/etc/environment proxy with quote and @"]}@{PROXY}"\n'
                   f'ACCESS_TOKEN={s["/etc/environment ACCESS_TOKEN"]}\n')
    config = json.dumps({
        "auths": {"registry.fleet.test": {"auth": s["config.json auth"]}},
        "HttpHeaders": {"Authorization": "Bearer " + s["config.json HttpHeaders Authorization"]},
        "proxies": {"default": {"httpProxy": f"http://cfg:{s['config.json proxies httpProxy']}@{PROXY}"}},
    })

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(time.time() - 120))
    x509 = 'x509: certificate signed by unknown authority'
    short = s["log line the host shortens (secret where the tail starts)"]
    long_msg = "y" * 150 + f" password={short} " + "z" * 150 + f' error=\\"{x509}\\"'
    assert len(long_msg) > 400
    log = "\n".join([
        f'time="{stamp}" level=error msg="pull failed: {x509}" '
        f'headers="map[Authorization:[Basic {s["log Go map Authorization Basic"]}] User-Agent:[docker/24.0.7]]"',
        f'time="{stamp}" level=error msg="no basic auth credentials" Authorization="Bearer {s["log Bearer header"]}"',
        f'AUTHORIZATION: TOKEN {s["log Token header, upper case"]} level=error msg="no basic auth credentials"',
        f'time="{stamp}" level=error msg="login failed: {{\\"password\\":\\"{s["log escaped JSON password"]}\\",'
        f'\\"Authorization\\": \\"Basic {s["log escaped JSON Authorization"]}\\"}}: no basic auth credentials"',
        f'time="{stamp}" level=warning msg="POST /images/create" headers="map[X-Registry-Auth:'
        f'[{s["log X-Registry-Auth in a Go map"]}]]" error="pull access denied"',
        f'time="{stamp}" level=error msg="log-opts map[splunk-token:{s["log Go map splunk-token"]} '
        f'splunk-url:https://splunk.fleet.test:8088]: {x509}"',
        f'time="{stamp}" level=info msg="fetch failed" error="failed to do request: Head '
        f'\\"https://ctrd:{s["log containerd URL userinfo"]}@registry.fleet.test/v2/\\": {x509}"',
        f'time="{stamp}" level=error msg="proxyconnect tcp" Authorization={s["log raw Authorization = value"]}',
        f'time="{stamp}" level=error msg="{long_msg}"',
    ]) + "\n"
    files = {HOST: {
        "/etc/docker/daemon.json": doc,
        "/etc/systemd/system/docker.service.d/http-proxy.conf": dropin,
        "/etc/default/docker": defaults,
        "/etc/environment": environment,
        "/root/.docker/config.json": config,
        "/var/log/docker.log": log,
    }, HOST2: {"/etc/docker/daemon.json": proxy_doc}}
    return files, s


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    state = tmp_path_factory.mktemp("fleet-secrets")
    fleet = Fleet(state / "lab")
    try:
        files, forms = plant()
        fleet.prepare()
        for value in forms.values():
            fleet.add_planted_secret(value)
        fleet.up([HostSpec(h, files=f) for h, f in files.items()], services=False, timeout=180)
        out = state / "out"
        out.mkdir()
        inv = fleet.write_inventory(out / "inventory.ini", fmt="ini")
        # Both runs are recorded in this history store, which is searched like every file.
        common = ["--known-hosts", fleet.known_hosts_path, "--connect-timeout", "5",
                  "--history", str(out / "history.sqlite")]
        audit = subprocess.run(
            FLEETAUDIT + ["audit", "-i", str(inv), *common, "--json", str(out / "snap.json"),
                          "--html", str(out / "report.html"), "--junit", str(out / "junit.xml"),
                          "--markdown", str(out / "summary.md"), "--reports-dir", str(out / "reports")],
            cwd=out, capture_output=True, text=True, timeout=600)
        gate = subprocess.run(
            FLEETAUDIT + ["gate", "-i", str(inv), *common, "--image", "registry.fleet.test/team/app:1.0",
                          "--pull", "--pull-timeout", "30", "--json", str(out / "gate.json"),
                          "--junit", str(out / "gate.xml"), "--snapshot", str(out / "gate-snap.json")],
            cwd=out, capture_output=True, text=True, timeout=600)
        # What leaves each host, byte for byte: the real composite script over real ssh.
        script = build_script(REGISTRY, new_nonce(), ScriptOptions())
        wire = {h: subprocess.run(fleet.ssh_argv(h, "sh -s"), input=script.encode(),
                                  capture_output=True, timeout=300) for h in files}
        yield {"fleet": fleet, "forms": forms, "out": out, "audit": audit, "gate": gate,
               "wire": {h: p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
                        for h, p in wire.items()}}
    finally:
        fleet.down()


def _artifacts(run):
    """Every file the runs wrote, plus their terminal output and exit status text."""
    arts = {}
    for path in sorted(Path(run["out"]).rglob("*")):
        if path.is_file() and path.name != "inventory.ini":
            arts[str(path.relative_to(run["out"]))] = path.read_text("utf-8", "replace")
    for name in ("audit", "gate"):
        arts[f"{name} stdout"] = run[name].stdout
        arts[f"{name} stderr"] = run[name].stderr
    for host, text in run["wire"].items():
        arts[f"raw output of {host}"] = text
    # The history keeps facts compressed: search every recorded run as it reads back.
    with open_store(str(Path(run["out"]) / "history.sqlite")) as store:
        for info in store.runs(limit=None):
            arts[f"history run {info.id} ({info.kind})"] = json.dumps(store.load(info.id))
    return arts


def _pieces(secret: str, n: int = 8):
    """Every n-character piece of a random secret, except the all-digit ones: about 2% of a
    hex secret's pieces are decimal runs, and raw output is full of numbers (byte counts,
    inodes), so one of them matched a number on both hosts once ('59970816'). A real leak
    still shows in its other pieces."""
    return {p for p in (secret[i:i + n] for i in range(0, max(1, len(secret) - n + 1)))
            if not p.isdigit()}


def test_every_artifact_is_free_of_every_planted_secret(planted_run):
    arts = _artifacts(planted_run)
    names = set(arts)
    assert {"snap.json", "report.html", "junit.xml", "summary.md", "gate.json", "gate.xml",
            "gate-snap.json", "audit stdout", "audit stderr", "raw output of " + HOST} <= names, names
    assert "@@" in arts["raw output of " + HOST] and len(arts["raw output of " + HOST]) > 10000
    assert any(n.startswith("reports/") for n in names)
    assert {"audit", "gate"} <= {n.split("(")[1].rstrip(")") for n in names if n.startswith("history run")}
    planted = planted_run["fleet"].planted_secrets
    forms = planted_run["forms"]
    assert set(forms.values()) <= set(planted) and len(forms) >= 25
    leaks = []
    for secret in planted:
        form = next((f for f, v in forms.items() if v == secret), None)
        # Ours are random: any 8-character piece is a (partial) leak. The lab's own
        # secrets are words ("registry-..."): those are searched whole.
        pieces = _pieces(secret) if form else {secret}
        for art, text in arts.items():
            hit = sorted(p for p in pieces if p in text)
            if hit:
                leaks.append(f"{form or 'lab secret'} -> {art}: {hit[:3]}")
    assert not leaks, "\n".join(leaks)


def test_the_audit_really_read_what_was_planted(planted_run):
    """No leak must not mean nothing was read: the planted files reached the facts, the
    secrets as REDACTED, the context rules need (proxy host:port, registry names, log-opts
    keys, error classes) intact."""
    snap = json.loads((planted_run["out"] / "snap.json").read_text())
    for name in (HOST, HOST2):
        assert snap["hosts"][name]["status"] in ("ok", "partial"), snap["hosts"][name]["error"]
    one = snap["hosts"][HOST]["facts"]
    proxy = one["proxy"]
    assert proxy["dockerd_running"] is True
    assert proxy["environ"]["HTTPS_PROXY"] == "REDACTED@" + PROXY          # from the drop-in
    assert proxy["environment_file"]["https_proxy"] == "REDACTED@" + PROXY
    assert proxy["env_files"]["/etc/default/docker"]["env"]["HTTP_PROXY"] == "REDACTED@" + PROXY
    # Redacted before the part cap, the 264 KB daemon.json shrank under it: whole and valid.
    dj = one["daemon_json"]
    assert dj["valid"] is True and dj["size"] <= PART_CAP
    assert dj["config"]["log-opts"]["splunk-token"] == "REDACTED"
    assert dj["config"]["log-opts"]["splunk-url"] == "https://splunk.fleet.test:8088"
    assert one["credentials"]["users"]["root"]["auths"] == {"registry.fleet.test": "auth"}
    log = one["daemon_log"]
    assert log["source"] == "/var/log/docker.log" and log["matched_count"] >= 9, log
    assert log["counts"].get("x509-unknown-authority", 0) >= 1
    assert log["counts"].get("no-basic-auth-credentials", 0) >= 1
    # sec-2: the proxy collector used to cut daemon.json at 64 KiB before redaction;
    # now the part is cut at its cap after redaction and the whole file arrives.
    two = snap["hosts"][HOST2]["facts"]
    assert two["proxy"]["daemon_json_proxies"]["http-proxy"] == "REDACTED@" + PROXY
    assert two["proxy"]["daemon_json_proxies"]["https-proxy"] == "http://REDACTED@" + PROXY
