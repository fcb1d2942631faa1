"""The report templates live at the top level (templates/), ship inside the wheel, and a
user can restyle the report with `--templates DIR`."""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "tests/data/snapshots/demo-subset.json"
FILES = ("report.html.j2", "report.css", "report.js")


def _cli(*args, cwd=ROOT, python=sys.executable, env=None):
    env = dict(os.environ if env is None else env)
    return subprocess.run([python, "-m", "fleetaudit.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _complete(html: str, css: str, js: str) -> None:
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")
    assert css.strip() in html and js.strip() in html  # inlined, not linked
    assert re.search(r'<script type="application/json"[^>]*>\{', html)  # the data island


def test_templates_are_at_the_top_level_only():
    assert all((ROOT / "templates" / f).is_file() for f in FILES)
    assert not (ROOT / "fleetaudit" / "templates").exists()


SKIP_DIRS = {".git", ".venv", ".lab", "reports", "build", "dist", "__pycache__", ".pytest_cache"}


def _clean_tree_files():
    """A clean clone: the files git tracks (no .lab/, reports/, caches, build/); outside a
    git checkout, the tree without those."""
    git = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if git.returncode == 0 and git.stdout:
        return git.stdout.decode().split("\0")
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS & set(p.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in p.parts)]


def test_wheel_from_a_clean_tree_installs_and_renders(tmp_path):
    src = tmp_path / "src"
    listed = _clean_tree_files()
    for rel in filter(None, listed):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(src)], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("fleetaudit-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Without PYTHONPATH: a checkout on it (with its fleetaudit.egg-info) would make pip
    # see fleetaudit as installed already and skip the wheel.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True,
                   timeout=300, env=env)
    # Dependencies from the test's own environment (offline), appended after the fresh
    # venv's site-packages: the wheel's fleetaudit is the one imported.
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(py), "-c", "import fleetaudit; print(fleetaudit.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    out = tmp_path / "report.html"
    run = _cli("report", str(DEMO), "--html", str(out), "-q", cwd=tmp_path, python=str(py), env=env)
    assert run.returncode in (0, 1), run.stderr
    _complete(out.read_text(encoding="utf-8"), (ROOT / "templates/report.css").read_text(),
              (ROOT / "templates/report.js").read_text())


def test_templates_option_restyles_the_report(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(ROOT / "templates", mine)
    css = (mine / "report.css").read_text() + "\n/* house style */ body { background: #fdf6e3; }\n"
    (mine / "report.css").write_text(css)
    out = tmp_path / "r.html"
    run = _cli("report", str(DEMO), "--html", str(out), "-q", "--templates", str(mine))
    assert run.returncode in (0, 1), run.stderr
    html = out.read_text(encoding="utf-8")
    _complete(html, css, (mine / "report.js").read_text())
    assert "/* house style */" in html


@pytest.mark.parametrize("command", [["audit", "-i", str(ROOT / "inventories/example-ansible.ini")],
                                     ["report", str(DEMO)], ["drift", "-i", str(ROOT / "inventories/example-ansible.ini")],
                                     ["history", "show", "latest"]])
def test_a_missing_template_is_a_usage_error_naming_the_file(tmp_path, command):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("report.html.j2", "report.js"):
        shutil.copy2(ROOT / "templates" / name, partial / name)
    run = _cli(*command, "--html", str(tmp_path / "r.html"), "--templates", str(partial))
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert str(partial / "report.css") in run.stderr and "missing" in run.stderr
    assert not (tmp_path / "r.html").exists()
