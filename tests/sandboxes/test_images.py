"""Base image recipe: content hash, build-method choice, cached rebuilds, and what the image holds."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from agentrl.sandboxes import images
from agentrl.sandboxes.images import (
    RECIPE_FILES,
    base_image_tag,
    build_base_image,
    content_hash,
    sandboxes_dir,
)


@pytest.fixture
def recipe_copy(tmp_path, monkeypatch):
    """A private copy of sandboxes/base, selected through AGENTRL_SANDBOXES_DIR."""
    shutil.copytree(sandboxes_dir() / "base", tmp_path / "base")
    monkeypatch.setenv("AGENTRL_SANDBOXES_DIR", str(tmp_path))
    monkeypatch.setenv("AGENTRL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_content_hash_covers_every_recipe_file(recipe_copy):
    original = content_hash()
    assert base_image_tag() == f"agentrl/swe-base:{original[:12]}"
    for name in RECIPE_FILES:
        path = recipe_copy / name
        saved = path.read_bytes()
        path.write_bytes(saved + b"\n# changed\n")
        assert content_hash() != original, name
        path.write_bytes(saved)
    assert content_hash() == original


def test_rootfs_location_follows_the_hash(recipe_copy):
    assert images.base_rootfs() == recipe_copy / "cache" / "sandboxes" / f"rootfs-{content_hash()[:12]}"


def test_dockerfile_and_offline_builder_install_the_same_packages():
    base = sandboxes_dir() / "base"
    packages = [line for line in (base / "packages.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert {"python3", "python3-pytest", "git"} <= set(packages)
    assert "packages.txt" in (base / "Dockerfile").read_text()
    assert "packages.txt" in (base / "build-offline.sh").read_text()


def test_method_choice(monkeypatch):
    class NoImages:
        class images:
            @staticmethod
            def get(tag):
                from docker.errors import ImageNotFound

                raise ImageNotFound(tag)

    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/sbin/debootstrap")
    monkeypatch.setattr(images.os, "geteuid", lambda: 0)
    assert images._choose_method("auto", NoImages()) == "offline"
    assert images._choose_method("dockerfile", NoImages()) == "dockerfile"
    monkeypatch.setattr(images.os, "geteuid", lambda: 1000)
    assert images._choose_method("auto", NoImages()) == "dockerfile"  # the only way left
    with pytest.raises(images.SandboxUnavailableError, match="debootstrap"):
        images._choose_method("auto", None)
    with pytest.raises(ValueError, match="valid methods"):
        build_base_image("magic", client=None, docker=False)

    class BaseImageHere:
        class images:
            @staticmethod
            def get(tag):
                return object()

    assert images._choose_method("auto", BaseImageHere()) == "dockerfile"  # no registry needed


@pytest.mark.docker
@pytest.mark.slow
def test_missing_rootfs_is_exported_from_the_image(docker_engine, recipe_copy):
    """Same recipe, empty cache: the image exists, so its filesystem is unpacked for bubblewrap."""
    result = build_base_image(client=docker_engine, log=lambda line: None)
    assert result.method == "export"
    root = Path(result.rootfs)
    assert root.is_relative_to(recipe_copy / "cache") and images.rootfs_ready(root)
    assert (root / "usr" / "bin" / "python3").exists()
    modes = [p.lstat().st_mode for p in (root / "dev").rglob("*")]
    devices = [mode for mode in modes if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)]
    assert devices == []  # bubblewrap mounts its own /dev
    from agentrl.sandboxes import LocalSandbox, SandboxUnavailableError

    if not images.shutil.which("bwrap"):
        return
    try:
        sandbox = LocalSandbox(rootfs=str(root))
    except SandboxUnavailableError as exc:
        # as root, sandboxes run under an unprivileged uid, and pytest's tmp_path is private to root
        assert os.geteuid() == 0 and "other users cannot enter" in str(exc)
        return
    with sandbox:
        assert "pytest" in sandbox.run("python3 -m pytest --version").output


@pytest.mark.docker
def test_build_is_skipped_when_the_hash_exists(docker_engine):
    lines = []
    result = build_base_image(client=docker_engine, log=lines.append)
    assert result.method == "cached" and result.seconds < 5
    assert result.tag == base_image_tag() and "unchanged" in lines[0]
    labels = docker_engine.images.get(result.tag).labels
    assert labels[images.HASH_LABEL] == content_hash()
    assert Path(result.rootfs, "usr", "bin", "python3").exists()


@pytest.mark.docker
def test_base_image_has_the_tools_tasks_need(docker_engine):
    from agentrl.sandboxes import DockerSandbox

    with DockerSandbox() as sandbox:
        result = sandbox.run("python3 -m pytest --version && git --version && ps --version && tar --version")
        assert result.ok, result.output
        assert "pytest" in result.output and "git version" in result.output


def test_builds_are_serialised_by_a_lock(recipe_copy):
    """A second build waits for the first (they used to share one staging folder)."""
    import subprocess
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", (
        "import time\nfrom agentrl.sandboxes.images import build_lock\n"
        "with build_lock():\n    print('locked', flush=True)\n    time.sleep(1.5)\n")],
        stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with images.build_lock():
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited > 0.8


def test_export_stages_into_a_folder_of_its_own(recipe_copy, monkeypatch):
    """A failed export leaves no staging folder behind, and never touches another build's."""
    class Client:
        class containers:
            @staticmethod
            def create(*args, **kwargs):
                class Container:
                    def export(self):
                        raise RuntimeError("engine went away")

                    def remove(self, force):
                        pass

                return Container()

    dest = recipe_copy / "cache" / "rootfs-x"
    other = dest.with_name("rootfs-x.partial-other")
    other.mkdir(parents=True)
    with pytest.raises(RuntimeError, match="engine went away"):
        images.export_rootfs(Client(), "tag", dest)
    assert [p.name for p in dest.parent.iterdir()] == [other.name]
