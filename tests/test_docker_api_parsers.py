"""Parsers for the Engine API shapes the docker collector's curl brings (/info,
/system/df), against the CLI shapes captured from the same lab host state."""
import json
from pathlib import Path

from fleetaudit.collectors import disk, docker
from fleetaudit.collectors.base import Part
from fleetaudit.collectors.jsonfacts import first_json_object

FACTS = Path(__file__).parent / "facts"


def _section(path):
    return {k: Part.from_json(v) for k, v in json.loads(path.read_text())["section"].items()}


def test_system_df_from_the_api_is_the_cli_rows_in_exact_bytes():
    api = disk.parse(_section(FACTS / "disk" / "lab-api-df.json"))["docker_df"]
    cli = disk.parse(_section(FACTS / "disk" / "lab-api-df-cli.json"))["docker_df"]
    for kind in ("images", "containers", "volumes", "build_cache"):
        assert (api[kind]["total"], api[kind]["active"]) == (cli[kind]["total"], cli[kind]["active"])
        for key in ("size", "reclaimable"):
            # the CLI prints 4 significant digits ("6.31MB", "345.7kB")
            assert abs(api[kind][key] - cli[kind][key]) <= max(1, api[kind][key]) * 1e-3
    # what the host wrote: an unused 2345678-byte image, 345678 bytes in a running
    # container, a 1234567-byte unreferenced volume
    assert api["images"]["reclaimable"] == 2345678
    assert api["containers"] == {"total": 3, "active": 1, "size": 345678, "reclaimable": 0}
    assert api["volumes"] == {"total": 2, "active": 1, "size": 1234567, "reclaimable": 1234567}


def test_system_df_api_1_52_summaries_are_taken_as_they_are():
    # API >= 1.52 sends per-kind summaries (ImageUsage, ...; moby api/types/system)
    doc = {"ImageUsage": {"TotalCount": 3, "ActiveCount": 1, "TotalSize": 6310190, "Reclaimable": 2345678},
           "ContainerUsage": {"TotalCount": 2, "ActiveCount": 1, "TotalSize": 5, "Reclaimable": 0},
           "VolumeUsage": {"TotalCount": 0, "ActiveCount": 0, "TotalSize": 0, "Reclaimable": 0}}
    df = disk.df_from_api(doc)
    assert df["images"] == {"total": 3, "active": 1, "size": 6310190, "reclaimable": 2345678}
    assert df["build_cache"] is None


def test_system_df_api_failures_say_why():
    assert disk.parse({"docker_df_api": Part("curl: timed out\n", 124)})["docker_df_error"] == "timed out"
    assert disk.parse({"docker_df_api": Part("<html>", 0)})["docker_df_error"] == "no usable /system/df document"
    assert disk.parse({"docker_df_api": Part('{"Images": "x", "LayersSize": -1}\n', 0)})["docker_df"]["images"] == {
        "total": 0, "active": 0, "size": 0, "reclaimable": 0}


def test_info_from_the_api_survives_the_redaction_of_authorization_null():
    section = _section(FACTS / "docker" / "lab-api-info.json")
    assert '"Authorization":REDACTED"' in section["info"].out   # what the host's filter made of it
    facts = docker.parse(section)
    assert facts["info_source"] == "json" and facts["info"]["server_version"] == "20.10.24+dfsg1"
    # a value the filter ate stays a placeholder, never a real value
    doc = first_json_object('{"A":1,"Authorization":REDACTED"B":2}\n')
    assert doc == {"A": 1, "Authorization": "REDACTED", "B": 2}
