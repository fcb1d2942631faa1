"""Re-capture tests/data/snapshots/facts-views.json: a real audit of a small lab fleet
whose hosts' dockerd and login shells disagree (tests/test_facts_views.py reads it).

    sudo PYTHONPATH=$PWD /work/main/.venv/bin/python tests/data/snapshots/make_facts_views.py

Hosts (lab/demo.py's golden configuration unless said):
- golden, good-1, good-2: proxy drop-in (NO_PROXY has registry.fleet.test), lab CA in the
  system bundle, a local anchor and certs.d, root logged in to the registry.
- env-proxy: the proxy (user:pass@) only in /etc/environment; dockerd has none.
- session-proxy: golden, and every SSH session gets HTTPS_PROXY with NO_PROXY=localhost
  (the session proxies the registry; the daemon does not).
- bundle-ca: the lab CA only in the system bundle (no certs.d, no local anchor).
- insecure: daemon.json insecure-registries: registry.fleet.test and a CIDR; no CA at all.
- user-creds: registry credentials only for user deploy, none for root.
- skew: +2h for SSH sessions (libfaketime).
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from lab.demo import DAEMON_JSON, golden_files  # noqa: E402
from lab.fleet import Fleet, HostSpec  # noqa: E402
from lab.services import docker_config_json  # noqa: E402

OUT = Path(__file__).resolve().parent / "facts-views.json"


def specs(fleet):
    fleet.prepare()
    g = golden_files(fleet)
    D = lambda name, files=None, **kw: HostSpec(name=name, kind="docker",  # noqa: E731
                                                files=dict(files if files is not None else g), **kw)
    creds = fleet.proxy_url_with_credentials
    env_proxy = golden_files(fleet, dropin=False)
    env_proxy["/etc/environment"] = (f"http_proxy={creds}\nhttps_proxy={creds}\n"
                                     f"HTTP_PROXY={creds}\nHTTPS_PROXY={creds}\nno_proxy=localhost,127.0.0.1\n")
    bundle_ca = golden_files(fleet)
    bundle_ca.pop("/etc/docker/certs.d/registry.fleet.test/ca.crt")
    bundle_ca.pop("/usr/local/share/ca-certificates/fleet-lab-ca.crt")
    insecure = golden_files(fleet, ca=False)
    insecure["/etc/docker/daemon.json"] = json.dumps(
        dict(DAEMON_JSON, **{"insecure-registries": ["registry.fleet.test", "10.99.0.0/16"]}), indent=2) + "\n"
    user_creds = golden_files(fleet, root_auth=False)
    user_creds["/home/deploy/.docker/config.json"] = docker_config_json(fleet)
    return [
        D("golden"), D("good-1"), D("good-2"),
        D("env-proxy", env_proxy),
        D("session-proxy", session_env={"HTTPS_PROXY": fleet.proxy_url, "NO_PROXY": "localhost"}),
        D("bundle-ca", bundle_ca),
        D("insecure", insecure),
        D("user-creds", user_creds, users=["deploy"]),
        D("skew", clock_offset="+2h"),
    ]


def main():
    with tempfile.TemporaryDirectory(prefix="facts-views-") as tmp:
        fleet = Fleet(Path(tmp) / "lab")
        try:
            fleet.up(specs(fleet))
            inv = fleet.write_inventory(Path(tmp) / "inventory.yml")
            out = Path(tmp) / "run.json"
            subprocess.run([sys.executable, "-m", "fleetaudit.cli", "audit", "-i", inv,
                            "--known-hosts", str(fleet.known_hosts_path), "--json", str(out), "--no-history"],
                           cwd=ROOT, check=False)
            doc = json.loads(out.read_text())
        finally:
            fleet.down()
    secrets = fleet.planted_secrets
    text = json.dumps(doc, indent=1, sort_keys=True)
    leaked = [s for s in secrets if s and s in text]
    if leaked:
        raise SystemExit(f"planted secrets in the audit output: refusing to write {OUT}")
    OUT.write_text(text + "\n")
    print(OUT, {h: v["status"] for h, v in doc["hosts"].items()})


if __name__ == "__main__":
    main()
