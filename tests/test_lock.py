"""requirements.lock (written by `make lock`) is what `make venv` installs: every requirement of pyproject.toml
must be pinned there, at a release its specifier allows, with hashes, or a new machine gets something else."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def _locked() -> dict[str, tuple[Requirement, list[str]]]:
    """The pins that apply to this interpreter and platform, by name: (requirement, its hashes)."""
    pins = {}
    text = (REPO / "requirements.lock").read_text("utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *hashes = (part.strip() for part in line.split("--hash="))
        pin = Requirement(requirement)
        if pin.marker is None or pin.marker.evaluate():
            pins[canonicalize_name(pin.name)] = (pin, hashes)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    names = (
        project["project"]["dependencies"]
        + project["project"]["optional-dependencies"]["test"]
        + project["build-system"]["requires"]
        + ["pip"]
    )
    return [Requirement(name) for name in names]


def test_every_locked_release_is_exact_and_hashed():
    pins = _locked()
    assert len(pins) > 50
    for name, (pin, hashes) in pins.items():
        assert len(pin.specifier) == 1 and next(iter(pin.specifier)).operator == "==", f"{name} is not pinned: {pin}"
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{name} has no hash"


def test_the_lock_pins_every_requirement_of_pyproject_within_its_range():
    pins = _locked()
    stale = []
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            stale.append(f"{requirement} is not in requirements.lock")
            continue
        version = next(iter(pins[name][0].specifier)).version
        if not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} but requirements.lock has {version}")
    assert not stale, "run `make lock` and commit requirements.lock: " + "; ".join(stale)


def test_make_venv_installs_the_lock_with_hashes_and_the_project_without_resolving():
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "VENV=/nonexistent", "venv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "/nonexistent/bin/python -m pip install --quiet --require-hashes -r requirements.lock" in recipe
    assert "/nonexistent/bin/python -m pip install --quiet --no-deps --no-build-isolation -e ." in recipe
    assert recipe.count("pip install") == 2, recipe  # nothing else installed into the venv, unpinned
