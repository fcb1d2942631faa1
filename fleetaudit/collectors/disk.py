"""disk: space and inodes where pulls land ("no space left on device" mid-layer).

Facts:
- data_root: {path, source, filesystem, mount, size, used, avail, used_pct, inodes,
  inodes_used, inodes_free, inodes_used_pct, error} for the Docker root dir. path comes
  from `docker info --format '{{.DockerRootDir}}'` (source "docker info"), else
  /var/lib/docker (source "default": daemon down or docker missing). Sizes in bytes
  (df -P -B1; df -P -k times 1024 where -B is not supported); used_pct =
  used / (used + avail) * 100 like df's Capacity (root-reserved blocks excluded),
  rounded to 0.1; inode fields null where the filesystem has no inode limit (btrfs,
  some overlays report 0). error: df's message (e.g. the dir does not exist).
- root: the same for "/".
- same_filesystem: bool|null - the data root lives on the root filesystem.
- docker_df: {images, containers, volumes, build_cache: {total, active, size,
  reclaimable}}, null when it could not run. Where the docker collector could ask the
  Engine API (curl on the CLI's own socket, part docker_df_api), /system/df's exact
  bytes, summed as the CLI sums them; otherwise `docker system df` (part docker_df:
  sizes read back from the CLI's "1.2GB", so good to its 3-4 significant digits).
- docker_df_error: str|null - why (daemon down, docker missing, timeout).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .base import KNOWN_PREFIX, RC_MISSING, RC_TIMED_OUT, Collector, Part, Section, part
from .docker import DOCKER_CLI_SH
from .jsonfacts import first_json_object, load_host_json

DEFAULT_ROOT = "/var/lib/docker"

# The root dir is needed twice: as a part (for the facts) and as df's argument. When
# the docker collector's `docker info` already answered, it left DockerRootDir in
# FA_DOCKER_ROOT and the part is printed from that (the same text `docker info --format
# '{{.DockerRootDir}}'` prints) without a second docker CLI call. Otherwise the part's
# raw text (markers included) is captured, re-emitted, and its first absolute path
# taken; anything else (daemon down) falls back to the default.
SCRIPT = r"""
if [ -n "$FA_DOCKER_ROOT" ]; then
  fa_part docker_root; printf '%s\n' "$FA_DOCKER_ROOT"; fa_rc 0
  FA_DR=$FA_DOCKER_ROOT
elif [ -n "$FA_DOCKER_DOWN" ] && [ -z "$FA_DOCKER_HUNG" ]; then
  # No daemon (docker version said so): the CLI's words, no path, no sed (fa_docker).
  fa_docker docker_root; FA_DR=
else
  FA_DR=$(fa_docker docker_root docker info --format '{{.DockerRootDir}}')
  printf '%s\n' "$FA_DR"
  FA_RC=${FA_DR##*"@@$FA_N:RC:"}; fa_docker_rc
  FA_DR=$(printf '%s\n' "$FA_DR" | sed -n '/^\//{p;q;}')
fi
[ -n "$FA_DR" ] || FA_DR=/var/lib/docker
for FA_DP in data root; do
  if [ "$FA_DP" = data ]; then FA_DD=$FA_DR; else FA_DD=/; fi
  # df of one path prints two lines: no size guard needed (fa_brief).
  fa_brief "df_$FA_DP" df -P -B1 "$FA_DD"
  if [ "$FA_RC" != 0 ]; then fa_brief "dfk_$FA_DP" df -P -k "$FA_DD"; fi
  fa_brief "dfi_$FA_DP" df -P -i "$FA_DD"
done
# The docker collector may have fetched /system/df from the Engine API already (one
# curl for /info and /system/df, see DOCKER_API_SH): exact bytes, no CLI call.
if [ -n "$FA_DOCKER_DF" ]; then
  fa_part docker_df_api; printf '%s\n' "$FA_DOCKER_DF"; fa_rc "$FA_DOCKER_DF_RC"
else fa_docker docker_df docker system df --format '{{json .}}'; fi
FA_DOCKER_DF=
"""

_ROW = re.compile(
    r"^(?P<fs>\S.*?)\s+(?P<total>\d+|-)\s+(?P<used>\d+|-)\s+(?P<avail>\d+|-)\s+"
    r"(?P<pct>\d+%|-)\s+(?P<mount>/.*)$"
)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15, "eb": 10**18,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50, "eib": 2**60}
_DF_TYPES = {"images": "images", "containers": "containers", "local volumes": "volumes",
             "build cache": "build_cache"}


def _lines(p: Part) -> List[str]:
    """The part's complete lines: a cut-off part's unfinished last line is dropped."""
    lines = p.out.splitlines()
    if p.rc is None and lines and not p.out.endswith("\n"):
        lines.pop()
    return lines


def _error(p: Part) -> Optional[str]:
    if p.rc == 0:
        return None
    if p.rc is None:
        return "no output" if not p.out else "output cut off"
    if p.skipped:
        return f"skipped: {p.skipped}"
    if p.rc in RC_TIMED_OUT:
        return "timed out"
    # busybox df prints its header before the error ("df: PATH: can't find mount point")
    text = next((ln.strip() for ln in p.out.splitlines()
                 if ln.strip() and not ln.startswith(("Filesystem ", KNOWN_PREFIX))), "")
    return text[:300] or f"exit status {p.rc}"


def _df(p: Part) -> Optional[Dict[str, Any]]:
    """The first data row of `df -P` output, values scaled by the header's block size."""
    lines = _lines(p)
    if not lines:
        return None
    m = re.search(r"(\d+)[A-Za-z]*-blocks", lines[0])
    scale = int(m.group(1)) if m and len(m.group(1)) < 10 else 1
    for ln in lines[1:]:
        row = _ROW.match(ln.rstrip())
        if row:
            def num(key: str) -> Optional[int]:
                v = row.group(key)
                return int(v) * scale if v.isdigit() and len(v) < 22 else None
            return {"filesystem": row.group("fs")[:200], "mount": row.group("mount")[:400],
                    "total": num("total"), "used": num("used"), "avail": num("avail"),
                    "pct": row.group("pct")}
    return None


def _pct(used: Optional[int], free: Optional[int], fallback: Optional[str]) -> Optional[float]:
    if used is not None and free is not None and used + free > 0:
        return round(100.0 * used / (used + free), 1)
    if fallback and fallback.endswith("%") and fallback[:-1].isdigit():
        return float(fallback[:-1])
    return None


def _usage(path: Optional[str], blocks: Part, blocks_k: Part, inodes: Part) -> Dict[str, Any]:
    facts: Dict[str, Any] = {
        "path": path, "filesystem": None, "mount": None, "size": None, "used": None,
        "avail": None, "used_pct": None, "inodes": None, "inodes_used": None,
        "inodes_free": None, "inodes_used_pct": None, "error": None,
    }
    row = _df(blocks) or _df(blocks_k)
    if row is None:
        bad = blocks_k if blocks_k.rc is not None else blocks
        facts["error"] = _error(bad) or "no usable df output"
    else:
        facts.update(filesystem=row["filesystem"], mount=row["mount"], size=row["total"],
                     used=row["used"], avail=row["avail"],
                     used_pct=_pct(row["used"], row["avail"], row["pct"]))
    irow = _df(inodes)
    if irow is not None and irow["total"]:  # 0 inodes = no inode limit on this fs
        facts.update(inodes=irow["total"], inodes_used=irow["used"], inodes_free=irow["avail"],
                     inodes_used_pct=_pct(irow["used"], irow["avail"], irow["pct"]))
    return facts


def parse_size(text: Any) -> Optional[int]:
    """Docker's human sizes ("1.2GB", "512kB", "0B", "3.1GiB (45%)") -> bytes."""
    if not isinstance(text, str):
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]{1,3})\b", text)
    if not m or m.group(2).lower() not in _UNITS:
        return None
    return int(round(float(m.group(1)) * _UNITS[m.group(2).lower()]))


def _count(value: Any) -> Optional[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _docker_df(p: Part) -> Dict[str, Any]:
    if p.rc == RC_MISSING:
        return {"docker_df": None, "docker_df_error": "docker not installed"}
    if p.rc != 0:
        return {"docker_df": None, "docker_df_error": _error(p)}
    found: Dict[str, Any] = {}
    for ln in _lines(p):
        try:
            row, _ = load_host_json(ln)
        except ValueError:
            continue
        if not isinstance(row, dict) or not isinstance(row.get("Type"), str):
            continue
        key = _DF_TYPES.get(row["Type"].strip().lower())
        if key:
            found[key] = {"total": _count(row.get("TotalCount")), "active": _count(row.get("Active")),
                          "size": parse_size(row.get("Size")),
                          "reclaimable": parse_size(row.get("Reclaimable"))}
    if not found:
        return {"docker_df": None, "docker_df_error": "no usable docker system df output"}
    return {"docker_df": {k: found.get(k) for k in ("images", "containers", "volumes", "build_cache")},
            "docker_df_error": None}


def _n(value: Any) -> int:
    """A byte count or count from the API (-1 or junk: not computed, counts as 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _items(doc: dict, key: str) -> List[dict]:
    value = doc.get(key)
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _summary(usage: Any) -> Optional[Dict[str, Any]]:
    """API >= 1.52 summarises each kind itself ({TotalCount, ActiveCount, TotalSize,
    Reclaimable}): taken as it is."""
    if not isinstance(usage, dict):
        return None
    return {"total": _count(usage.get("TotalCount")), "active": _count(usage.get("ActiveCount")),
            "size": _count(usage.get("TotalSize")), "reclaimable": _count(usage.get("Reclaimable"))}


def df_from_api(doc: dict) -> Dict[str, Any]:
    """`docker system df`'s four rows from the Engine API's /system/df document, in exact
    bytes, computed as the docker CLI (27/28) computes them from the same document:
    images: size LayersSize, active = used by a container, reclaimable = size minus
    what active images hold alone (Size - SharedSize); containers: active = running,
    paused or restarting, size = sum of SizeRw, reclaimable = that of the others;
    volumes: active = RefCount > 0, size = sum of UsageData.Size (-1: not computed),
    reclaimable = that of unreferenced ones; build cache: active = InUse, size and
    reclaimable over records not Shared (reclaimable: not in use either)."""
    if any(k in doc for k in ("ImageUsage", "ContainerUsage", "VolumeUsage", "BuildCacheUsage")):
        return {"images": _summary(doc.get("ImageUsage")),
                "containers": _summary(doc.get("ContainerUsage")),
                "volumes": _summary(doc.get("VolumeUsage")),
                "build_cache": _summary(doc.get("BuildCacheUsage"))}
    images = _items(doc, "Images")
    layers = _n(doc.get("LayersSize"))
    used = sum(_n(i.get("Size")) - _n(i.get("SharedSize")) for i in images
               if _n(i.get("Containers")) and i.get("Size") != -1 and i.get("SharedSize") != -1)
    containers = _items(doc, "Containers")

    def running(c: dict) -> bool:
        state = c.get("State") if isinstance(c.get("State"), str) else ""
        return any(w in state for w in ("running", "paused", "restarting"))
    volumes = _items(doc, "Volumes")

    def vol(v: dict, key: str) -> int:
        u = v.get("UsageData")
        return _n(u.get(key)) if isinstance(u, dict) else 0
    cache = _items(doc, "BuildCache")
    return {
        "images": {"total": len(images), "active": sum(1 for i in images if _n(i.get("Containers"))),
                   "size": layers, "reclaimable": layers - used},
        "containers": {"total": len(containers), "active": sum(1 for c in containers if running(c)),
                       "size": sum(_n(c.get("SizeRw")) for c in containers),
                       "reclaimable": sum(_n(c.get("SizeRw")) for c in containers if not running(c))},
        "volumes": {"total": len(volumes), "active": sum(1 for v in volumes if vol(v, "RefCount")),
                    "size": sum(vol(v, "Size") for v in volumes),
                    "reclaimable": sum(vol(v, "Size") for v in volumes if not vol(v, "RefCount"))},
        "build_cache": {"total": len(cache), "active": sum(1 for b in cache if b.get("InUse") is True),
                        "size": sum(_n(b.get("Size")) for b in cache if b.get("Shared") is not True),
                        "reclaimable": sum(_n(b.get("Size")) for b in cache
                                           if b.get("Shared") is not True and b.get("InUse") is not True)},
    }


def _docker_df_api(p: Part) -> Dict[str, Any]:
    if p.rc != 0:
        return {"docker_df": None, "docker_df_error": _error(p)}
    doc = first_json_object(p.out)
    if doc is not None:
        return {"docker_df": df_from_api(doc), "docker_df_error": None}
    return {"docker_df": None, "docker_df_error": "no usable /system/df document"}


def parse(section: Section) -> dict:
    root_part = part(section, "docker_root")
    path = next((ln.strip() for ln in _lines(root_part) if ln.startswith("/")), None)
    if root_part.rc == 0 and path:
        source = "docker info"
    else:
        path, source = DEFAULT_ROOT, "default"
    data = _usage(path, part(section, "df_data"), part(section, "dfk_data"), part(section, "dfi_data"))
    data["source"] = source
    root = _usage("/", part(section, "df_root"), part(section, "dfk_root"), part(section, "dfi_root"))
    same = None
    if data["mount"] and root["mount"]:
        same = data["mount"] == root["mount"] and data["filesystem"] == root["filesystem"]
    facts: Dict[str, Any] = {"data_root": data, "root": root, "same_filesystem": same}
    if "docker_df_api" in section:
        facts.update(_docker_df_api(section["docker_df_api"]))
    else:
        facts.update(_docker_df(part(section, "docker_df")))
    return facts


COLLECTOR = Collector(name="disk", script=SCRIPT, parse=parse, doc=__doc__, shell_lib=(DOCKER_CLI_SH,))
