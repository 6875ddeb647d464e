# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection and its script as users install them (README, "Install").

- the Python distribution (pyproject.toml): `pip install` from a checkout and from an installed
  collection, `pipx install` from an installed collection, each into a fresh venv, then
  `dicom-echoscu` and `import dicom_network` against a pynetdicom SCP on loopback;
  `bin/echoscu` says the same as `dicom-echoscu`;
- the collection tarball (`ansible-galaxy collection build` / `install`): what it ships;
- the execution environment: `ansible-builder introspect` finds the module's Python
  requirements in the installed collection, `ansible-builder create` makes a build context.

Only one step reaches a package index: pip building the wheelhouse (our wheel, its
requirements and the build backend) through its cache. Every install after it is
`--no-index --find-links WHEELHOUSE`, so what installs is exactly what was built here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import typing as t
from pathlib import Path

import pytest
import yaml
from conftest import ECHOSCU, ROOT

VENV_BIN = Path(sys.executable).parent
PIP_OFFLINE = ["--disable-pip-version-check", "--no-index", "--find-links"]
StartSCP = t.Callable[..., t.Any]  # conftest.start_scp


def run(*args: object, timeout: float = 300, **kw: t.Any) -> subprocess.CompletedProcess:
    """Run a command (bounded), fail the test with its output when it fails."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if proc.returncode != 0:
        pytest.fail(f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def try_run(*args: object, timeout: float = 60, **kw: t.Any) -> subprocess.CompletedProcess:
    """Run a command (bounded) whose failure is what the test looks at."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kw)


def galaxy_version() -> str:
    return str(yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"])


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("install")


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    """A copy of the checkout as a commit would hold it (builds leave nothing in the checkout)."""
    src = work / "src"
    run(ROOT / "hack" / "copy-tree", src)
    return src


@pytest.fixture(scope="module")
def wheelhouse(work: Path, source: Path) -> Path:
    """Our wheel, the wheels it requires, the build backend and pip (pipx's shared venv
    upgrades its pip), for offline installs."""
    wh = work / "wheelhouse"
    build_requires = re.search(r'^requires = \[(.*)\]', (source / "pyproject.toml").read_text(), re.M)
    assert build_requires, "pyproject.toml has no [build-system] requires"
    backend = [s.strip().strip('"') for s in build_requires[1].split(",")]
    run(sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--wheel-dir", wh,
        source, *backend, "pip", timeout=600)
    return wh


@pytest.fixture(scope="module")
def tarball(work: Path, source: Path) -> Path:
    out = work / "dist"
    run(VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path", out, cwd=source)
    (built,) = out.glob("dicom-network-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def installed_collection(work: Path, tarball: Path) -> Path:
    """The collection as `ansible-galaxy collection install TARBALL -p DIR` leaves it."""
    collections = work / "collections"
    run(VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball)
    return collections / "ansible_collections" / "dicom" / "network"


def fresh_venv(path: Path) -> Path:
    run(sys.executable, "-m", "venv", path)
    return path / "bin"


def check_command(bin_dir: Path, scp: t.Any) -> None:
    """dicom-echoscu from bin_dir: version, a Success, a rejection, a usage error."""
    command = bin_dir / "dicom-echoscu"
    version = run(command, "--version")
    assert f"dicom.network {galaxy_version()}" in version.stdout
    ok = try_run(command, "-aec", scp.ae_title, scp.host, scp.port)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    assert scp.seen.echo_message_ids == [1]
    rejected = try_run(command, "-aec", "WRONG", scp.host, scp.port)
    assert rejected.returncode == 4, rejected.stderr
    assert "Called AE title not recognised" in rejected.stderr
    usage = try_run(command, "--no-such-option")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


# -- the Python distribution ---------------------------------------------------------------


def test_wheel_is_the_engine_and_the_command(wheelhouse: Path) -> None:
    import zipfile

    (wheel,) = wheelhouse.glob("dicom_network-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(f"{dist_info}/METADATA").decode()
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    engine = {f"dicom_network/{p.name}" for p in (ROOT / "plugins" / "module_utils").glob("*.py")}
    assert engine <= names, "every module_utils file is in the package"
    assert not [n for n in names if not n.startswith(("dicom_network/", dist_info))]
    assert re.search(r"^dicom-echoscu = dicom_network\._cli:run$", entry_points, re.M)
    # One command, not pynetdicom's or DCMTK's name.
    assert not re.search(r"^echoscu\b", entry_points, re.M)
    assert f"\nVersion: {galaxy_version()}\n" in meta
    requirements = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    for requirement in requirements:
        name = re.split(r"[<>=!~ ]", requirement)[0]
        assert re.search(rf"^Requires-Dist: {name}\b", meta, re.M | re.I), requirement


def test_pip_install_from_checkout(work: Path, source: Path, wheelhouse: Path, start_scp: StartSCP) -> None:
    """`pip install .` in a checkout (built from source with the backend from the wheelhouse)."""
    bin_dir = fresh_venv(work / "venv-checkout")
    run(bin_dir / "python", "-m", "pip", "install", *PIP_OFFLINE, wheelhouse, source)
    scp = start_scp(require_called_aet=True)
    check_command(bin_dir, scp)
    # Python users import the engine as dicom_network.
    code = (
        "import json, sys\n"
        "from dicom_network.echo_engine import run_echo\n"
        "from dicom_network.echo_request import EchoRequest\n"
        "r = run_echo(EchoRequest(host=sys.argv[1], port=int(sys.argv[2]), called_aet=sys.argv[3]))\n"
        "print(json.dumps({'ok': r.ok, 'status': r.status}))\n"
    )
    out = run(bin_dir / "python", "-c", code, scp.host, scp.port, scp.ae_title)
    assert json.loads(out.stdout) == {"ok": True, "status": 0}


def test_pip_install_from_installed_collection(
    work: Path, installed_collection: Path, wheelhouse: Path, start_scp: StartSCP
) -> None:
    bin_dir = fresh_venv(work / "venv-collection")
    run(bin_dir / "python", "-m", "pip", "install", *PIP_OFFLINE, wheelhouse, installed_collection)
    check_command(bin_dir, start_scp(require_called_aet=True))


def test_pipx_install(work: Path, installed_collection: Path, wheelhouse: Path, start_scp: StartSCP) -> None:
    """`pipx install` from the installed collection, as the README shows."""
    pipx = VENV_BIN / "pipx"
    if not pipx.exists():
        pytest.fail("pipx is not installed in the test venv (requirements-dev.txt)")
    home = work / "pipx"
    env = dict(
        os.environ, PIPX_HOME=str(home), PIPX_BIN_DIR=str(home / "bin"), PIPX_MAN_DIR=str(home / "man"),
        # pipx's own pip calls (its shared venv) stay offline too.
        PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    run(pipx, "install", "--python", sys.executable, installed_collection, env=env)
    check_command(home / "bin", start_scp(require_called_aet=True))
    assert not (home / "bin" / "echoscu").exists(), "pynetdicom's echoscu stays inside the pipx venv"


def test_bin_echoscu_says_what_dicom_echoscu_says(
    work: Path, source: Path, wheelhouse: Path, start_scp: StartSCP
) -> None:
    """The launcher in the collection and the console command are one program."""
    bin_dir = work / "venv-checkout" / "bin"
    if not (bin_dir / "dicom-echoscu").exists():
        bin_dir = fresh_venv(work / "venv-same")
        run(bin_dir / "python", "-m", "pip", "install", *PIP_OFFLINE, wheelhouse, source)
    scp = start_scp(require_called_aet=True)
    for args in (["--help"], ["--no-such-option"], ["-aec", "WRONG", scp.host, scp.port],
                 ["-aec", scp.ae_title, scp.host, scp.port], ["-aec", scp.ae_title, scp.host, "notaport"]):
        script = try_run(bin_dir / "python", ECHOSCU, *args)
        command = try_run(bin_dir / "dicom-echoscu", *args)
        # Either may name itself as it was called; everything else is the same.
        said = [(p.returncode, *(text.replace("dicom-echoscu", "echoscu") for text in (p.stdout, p.stderr)))
                for p in (script, command)]
        assert said[0] == said[1], args


# -- the collection ------------------------------------------------------------------------


def test_tarball_ships_changelog_and_pyproject(tarball: Path) -> None:
    with tarfile.open(tarball) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    for shipped in ("CHANGELOG.rst", "changelogs/changelog.yaml", "pyproject.toml", "requirements.txt",
                    "meta/runtime.yml", "meta/execution-environment.yml", "bin/echoscu",
                    "docs/docsite/links.yml", "CONTRIBUTING.md", "README.md"):
        assert shipped in names, shipped
    for left_out in ("hack", "bench", "demo", ".venv", "tests/output", "requirements-dev.txt"):
        assert not [n for n in names if n == left_out or n.startswith(left_out + "/")], left_out
    info = manifest["collection_info"]
    assert info["version"] == galaxy_version()
    assert info["authors"]
    assert not [k for k, v in info.items() if isinstance(v, str) and "example.invalid" in v]


def test_changelog_is_generated_from_changelog_yaml(work: Path, source: Path) -> None:
    """CHANGELOG.rst is antsibull-changelog's rendering of changelogs/changelog.yaml, and the
    release galaxy.yml names is in it (fragments of unreleased changes may wait)."""
    copy = work / "changelog-check"
    shutil.copytree(source, copy)
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    run(VENV_BIN / "antsibull-changelog", "lint", cwd=copy, env=env)
    run(VENV_BIN / "antsibull-changelog", "generate", cwd=copy, env=env)
    assert (copy / "CHANGELOG.rst").read_text() == (source / "CHANGELOG.rst").read_text(), (
        "CHANGELOG.rst differs from `antsibull-changelog generate`: do not edit it by hand")
    releases = yaml.safe_load((source / "changelogs" / "changelog.yaml").read_text())["releases"]
    assert galaxy_version() in releases


def test_requires_ansible_is_the_oldest_of_the_matrix() -> None:
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    matrix = run(ROOT / "hack" / "setup", "--matrix").stdout.split()
    assert runtime["requires_ansible"] == f">={matrix[0]}.0"
    assert "echo" in runtime["action_groups"]["dicom"]


# -- the execution environment -------------------------------------------------------------


def test_execution_environment(work: Path, installed_collection: Path, tarball: Path) -> None:
    builder = VENV_BIN / "ansible-builder"
    if not builder.exists():
        pytest.fail("ansible-builder is not installed in the test venv (requirements-dev.txt)")
    # What ansible-builder finds in the collection when an EE image installs it.
    found = run(builder, "introspect", "--sanitize", installed_collection.parents[2])
    requirements = [r for r in (ROOT / "requirements.txt").read_text().splitlines() if r and not r.startswith("#")]
    for requirement in requirements:
        assert re.search(rf"{re.escape(requirement)}\s+# from collection dicom\.network", found.stdout), found.stdout
    # The README's execution-environment.yml makes a build context (the image build needs Docker).
    ee = work / "ee"
    ee.mkdir()
    shutil.copy(tarball, ee / tarball.name)
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(# execution-environment\.yml\n.*?)```", readme, re.S)
    assert block, "README shows an execution-environment.yml"
    (ee / "execution-environment.yml").write_text(block[1].replace("dicom-network-X.Y.Z.tar.gz", tarball.name))
    run(builder, "create", "--file", ee / "execution-environment.yml", "--context", ee / "context",
        "--output-filename", "Containerfile", cwd=ee)
    context = ee / "context"
    assert "ansible-galaxy collection install" in (context / "Containerfile").read_text()
    # The image build copies _build to /build and installs the tarball from there.
    assert (context / "_build" / tarball.name).is_file()
    wanted = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    assert wanted == [{"name": f"/build/{tarball.name}", "type": "file"}]
