"""Running one collector's real fragment inside the real composite script, locally."""
import shutil
import subprocess

import pytest

from fleetaudit.script import ScriptOptions, build_script, split_output

# The shells a host's /bin/sh may be; bash in POSIX mode stands for sh -> bash hosts.
POSIX_SHELLS = [["dash", "-s"], ["bash", "--posix", "-s"], ["busybox", "sh", "-s"]]


def run_section(collector, shell, nonce="n0nce"):
    """The collector's section as `shell` produces it (skips when the shell is absent)."""
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    # Generous per-part timeout: a loaded CI machine is slow, not broken.
    script = build_script([collector], nonce, ScriptOptions(part_timeout_s=60))
    out = subprocess.run(shell, input=script.encode(), capture_output=True, timeout=120)
    parsed = split_output(out.stdout.decode("utf-8", "replace"), nonce)
    assert parsed.complete
    return parsed.sections[collector.name]
