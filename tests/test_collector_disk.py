"""disk: size parsing, df variants, and the fragment's root-dir hand-off under every shell."""
import os
import shutil
import subprocess

import pytest

from fleetaudit.collectors import disk
from fleetaudit.collectors.base import Part
from fleetaudit.script import ScriptOptions, build_script, new_nonce, split_output


@pytest.mark.parametrize("text,expected", [
    ("0B", 0), ("512B", 512), ("1.2GB", 1_200_000_000), ("22.72MB", 22_720_000),
    ("128.5kB", 128_500), ("1.5GiB", 1_610_612_736), ("3.1GB (45%)", 3_100_000_000),
    ("2TB", 2 * 10**12), ("", None), ("12 parsecs", None), (None, None), (5, None), ("GB", None),
])
def test_parse_size(text, expected):
    assert disk.parse_size(text) == expected


def test_df_block_size_from_header_and_used_pct_like_df():
    facts = disk.parse({
        "docker_root": Part("/data/docker\n", 0),
        "df_data": Part("df: invalid option -- 'B'\n", 1),
        "dfk_data": Part("Filesystem     1024-blocks    Used Available Capacity Mounted on\n"
                         "/dev/sdb1         1000000  900000     50000      95% /data\n", 0),
        "dfi_data": Part("Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sdb1 0 0 0 - /data\n", 0),
    })
    d = facts["data_root"]
    assert (d["path"], d["source"], d["mount"]) == ("/data/docker", "docker info", "/data")
    assert (d["size"], d["used"], d["avail"]) == (1_024_000_000, 921_600_000, 51_200_000)
    assert d["used_pct"] == 94.7  # of used+avail, as df computes Capacity
    assert d["inodes"] is None     # 0 inodes: no inode limit on this filesystem
    assert facts["root"]["error"] == "no output"


def test_filesystem_names_with_spaces_and_mounts_with_spaces():
    row = disk._df(Part("Filesystem 1B-blocks Used Available Use% Mounted on\n"
                        "//nas/share name 1000 10 990 1% /mnt/my docker\n", 0))
    assert row["filesystem"] == "//nas/share name" and row["mount"] == "/mnt/my docker"


SHELLS = [s for s in ("dash", "bash", "busybox") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
def test_fragment_passes_docker_root_to_df(tmp_path, shell):
    """A stand-in `docker` reports a root dir; df must then be run on that dir."""
    root = tmp_path / "docker-root"
    root.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        f'case "$1" in info) echo "{root}" ;;\n'
        "system) echo '{\"Active\":\"1\",\"Reclaimable\":\"1GB (50%)\",\"Size\":\"2GB\","
        "\"TotalCount\":\"3\",\"Type\":\"Images\"}' ;; esac\n")
    fake.chmod(0o755)
    nonce = new_nonce()
    script = build_script([disk.COLLECTOR], nonce, ScriptOptions(part_timeout_s=60))
    cmd = ["busybox", "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}")
    out = subprocess.run(cmd, input=script.encode(), capture_output=True, env=env, timeout=60).stdout
    facts = disk.parse(split_output(out.decode(), nonce).sections["disk"])
    assert facts["data_root"]["path"] == str(root) and facts["data_root"]["source"] == "docker info"
    assert facts["data_root"]["error"] is None and facts["data_root"]["size"] > 0
    assert facts["root"]["mount"] == "/"
    assert facts["docker_df"]["images"] == {"total": 3, "active": 1, "size": 2 * 10**9, "reclaimable": 10**9}
