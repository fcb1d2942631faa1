"""contrib/kubernetes/: the manifests parse and hold together, and the exact commands
the pods run (the shard script of the ConfigMap, the container's command and env) audit
a small lab fleet shard by shard and merge it into one run.

The pods are emulated on this machine: every volume mount becomes a directory (the
ConfigMap's inventory, with identity_file pointing at the Secret's directory, the
Secret's key and known_hosts, the script, the shared reports volume), the env comes from
the container spec with each mount path replaced by its directory, JOB_COMPLETION_INDEX
and the job-name label are what Kubernetes would set, and all pods start at once.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "contrib" / "kubernetes"


def docs(name: str) -> list:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def config() -> dict:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs("config.yaml")}


def job_specs() -> list:
    """(source, Job spec) of the Indexed Job and of the CronJob's job template."""
    (job,) = docs("indexed-job.yaml")
    (cron,) = docs("cronjob.yaml")
    assert job["kind"] == "Job" and cron["kind"] == "CronJob"
    return [("indexed-job.yaml", job["spec"]), ("cronjob.yaml", cron["spec"]["jobTemplate"]["spec"])]


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container["env"]}


@pytest.mark.parametrize("source,spec", job_specs(), ids=lambda x: x if isinstance(x, str) else "")
def test_job_manifests_hold_together(source, spec):
    cfg = config()
    assert spec["completionMode"] == "Indexed"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    env = env_of(c)
    assert int(env["SHARDS"]["value"]) == spec["completions"], "SHARDS must equal completions"
    assert env["JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['job-name']"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert set(mounts.values()) == set(volumes)
    assert volumes["inventory"]["configMap"]["name"] == "fleetaudit-inventory"
    assert volumes["ssh"]["secret"]["secretName"] == "fleetaudit-ssh"
    assert volumes["scripts"]["configMap"]["name"] == "fleetaudit-shard-script"
    assert volumes["reports"]["persistentVolumeClaim"]["claimName"] == "fleetaudit-reports"
    # Every file the pod reads lies under a mount that provides it.
    script_path = c["command"][-1]
    assert Path(script_path).parent.as_posix() in mounts
    assert Path(script_path).name in cfg[("ConfigMap", "fleetaudit-shard-script")]["data"]
    assert Path(env["INVENTORY"]["value"]).name in cfg[("ConfigMap", "fleetaudit-inventory")]["data"]
    assert Path(env["INVENTORY"]["value"]).parent.as_posix() in mounts
    assert Path(env["KNOWN_HOSTS"]["value"]).parent.as_posix() in mounts
    assert env["REPORTS"]["value"] in mounts


def test_the_example_inventory_loads_and_points_at_the_secret(tmp_path):
    from fleetaudit.inventory import load_inventory
    data = config()[("ConfigMap", "fleetaudit-inventory")]["data"]
    (tmp_path / "inventory.yml").write_text(data["inventory.yml"])
    inv = load_inventory(str(tmp_path / "inventory.yml"))
    assert {h.identity_file for h in inv.hosts.values()} == {"/etc/fleetaudit/ssh/id_ed25519"}
    assert len(inv.hosts) == 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to build the namespace test fleet")
    from lab.demo import golden_files
    from lab.fleet import Fleet, HostSpec

    state = tmp_path_factory.mktemp("k8s-fleet") / "lab"
    f = Fleet(state_dir=str(state))
    try:
        f.prepare()
        files = golden_files(f)
        f.up([HostSpec(n, files=dict(files)) for n in ("k8s-a", "k8s-b", "k8s-c")]
             + [HostSpec("k8s-off", kind="refused")])
        yield f
    finally:
        f.down()


def emulate_volumes(fleet, root: Path, container: dict) -> dict:
    """mountPath -> local directory holding what Kubernetes would mount there."""
    cfg = config()
    dirs = {m["mountPath"]: root / m["name"] for m in container["volumeMounts"]}
    for d in dirs.values():
        d.mkdir(parents=True)
    by_name = {m["name"]: dirs[m["mountPath"]] for m in container["volumeMounts"]}
    ssh = by_name["ssh"]
    shutil.copy(fleet.key_path, ssh / "id_ed25519")
    os.chmod(ssh / "id_ed25519", 0o400)
    shutil.copy(fleet.known_hosts_path, ssh / "known_hosts")
    for name, text in cfg[("ConfigMap", "fleetaudit-shard-script")]["data"].items():
        (by_name["scripts"] / name).write_text(text)
    # The ConfigMap's inventory, with this fleet's hosts in it (the same layout: the key
    # comes from the Secret's mount).
    fleet.write_inventory(by_name["inventory"] / "inventory.yml", "native")
    text = (by_name["inventory"] / "inventory.yml").read_text()
    (by_name["inventory"] / "inventory.yml").write_text(
        text.replace(json.dumps(fleet.key_path), json.dumps(str(ssh / "id_ed25519"))))
    return {mount: str(d) for mount, d in dirs.items()}


def local(value: str, mounts: dict) -> str:
    for mount in sorted(mounts, key=len, reverse=True):
        if value == mount or value.startswith(mount + "/"):
            return mounts[mount] + value[len(mount):]
    return value


@pytest.mark.fleet
def test_indexed_job_pods_audit_their_shards_and_the_last_one_merges(fleet, tmp_path):
    _, spec = job_specs()[0]
    (c,) = spec["template"]["spec"]["containers"]
    mounts = emulate_volumes(fleet, tmp_path, c)
    job_name = "fleetaudit-shards-test"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "HOME": str(tmp_path)}
    for name, e in env_of(c).items():
        if "value" in e:
            env[name] = local(e["value"], mounts)
        elif e["valueFrom"].get("fieldRef"):
            env[name] = job_name  # the job-name label Kubernetes puts on every pod
        # secretKeyRef optional (the history URL): left unset, as when the Secret is absent
    argv = [local(a, mounts) for a in c["command"]]
    pods = [subprocess.Popen(argv, env={**env, "JOB_COMPLETION_INDEX": str(i)}, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(spec["completions"])]
    outs = [p.communicate(timeout=600) for p in pods]
    assert [p.returncode for p in pods] == [0] * len(pods), outs
    run_dir = Path(local(env["REPORTS"], mounts)) / job_name
    assert sorted(p.name for p in run_dir.glob("shard-*.json")) == [
        f"shard-{i}.json" for i in range(spec["completions"])]
    assert (run_dir / "merge.rc").read_text().strip() == "3", outs  # k8s-off is not audited
    fleet_doc = json.loads((run_dir / "fleet.json").read_text())
    assert sorted(fleet_doc["hosts"]) == ["k8s-a", "k8s-b", "k8s-c", "k8s-off"]
    assert fleet_doc["run"]["shards"]["complete"] is True
    assert fleet_doc["hosts"]["k8s-a"]["status"] == "ok"
    assert fleet_doc["hosts"]["k8s-off"]["error"]["class"] == "refused"
    for out in ("fleet.html", "fleet.xml", "fleet.md"):
        assert (run_dir / out).stat().st_size > 0
    # The merge recorded the fleet run in the history (XDG_STATE_HOME on the volume).
    hist = Path(env["XDG_STATE_HOME"]) / "fleetaudit" / "history.sqlite"
    listed = subprocess.run([sys.executable, "-m", "fleetaudit.cli", "history", "list",
                             "--history", str(hist), "--json"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["runs"]) == 1
