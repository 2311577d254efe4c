"""The SWE base image: where its recipe lives, its content hash, and how it is built.

The recipe is ``sandboxes/base/`` (``Dockerfile``, ``build-offline.sh``, ``packages.txt``). Its
SHA-256 names the image (``agentrl/swe-base:<hash12>``) and the bubblewrap root filesystem, so a
rebuild is skipped when nothing changed and a changed recipe can never be mistaken for the old one.

Build methods, as ``agentrl sandbox build`` picks them (``method="auto"``):

1. ``cached``: an image (and root filesystem) with this hash already exists; the image must carry
   the hash as its ``agentrl.content-hash`` label (a foreign image under the tag is rebuilt);
2. ``dockerfile``: ``docker build`` when the Dockerfile's base image is already present locally
   (auto never pulls; ask for ``method="dockerfile"`` to pull from a registry);
3. ``offline``: ``build-offline.sh`` (debootstrap minbase from a Debian mirror, then ``docker import``),
   which needs root and debootstrap but no registry.

Builds hold a lock (``<cache>/sandboxes/.build.lock``), so concurrent ``agentrl sandbox build`` runs
wait for each other instead of sharing a half-written staging folder; each export stages into a
folder of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agentrl.sandboxes.types import SandboxError, SandboxUnavailableError

RECIPE_FILES = ("base/Dockerfile", "base/build-offline.sh", "base/packages.txt")
IMAGE_REPOSITORY = "agentrl/swe-base"
HASH_LABEL = "agentrl.content-hash"
DOCKERFILE_FROM = "debian:bookworm-slim"
METHODS = ("auto", "dockerfile", "offline")


def sandboxes_dir() -> Path:
    """The ``sandboxes/`` directory (recipes and tasks): ``$AGENTRL_SANDBOXES_DIR`` or the source tree's."""
    configured = os.environ.get("AGENTRL_SANDBOXES_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2] / "sandboxes"
    if not (path / "base" / "packages.txt").is_file():
        raise SandboxUnavailableError(
            f"cannot find the sandbox recipes at {path}; set AGENTRL_SANDBOXES_DIR to the repository's "
            "sandboxes/ directory"
        )
    return path


def content_hash(root: Path | None = None) -> str:
    """SHA-256 of the recipe files (names and bytes)."""
    root = root or sandboxes_dir()
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def base_image_tag() -> str:
    return f"{IMAGE_REPOSITORY}:{content_hash()[:12]}"


def cache_dir() -> Path:
    """``$AGENTRL_CACHE``; else ``/var/cache/agentrl`` for root (the bubblewrap backend runs under
    an unprivileged uid that must be able to read it), else ``~/.cache/agentrl``."""
    configured = os.environ.get("AGENTRL_CACHE")
    if configured:
        return Path(configured)
    return Path("/var/cache/agentrl") if os.geteuid() == 0 else Path.home() / ".cache" / "agentrl"


def base_rootfs() -> Path:
    """Where the base image's root filesystem lives (the bubblewrap backend's default root)."""
    return cache_dir() / "sandboxes" / f"rootfs-{content_hash()[:12]}"


def rootfs_ready(path: Path) -> bool:
    return (path / "usr" / "bin").is_dir() and (path / "testbed").is_dir()


def image_exists(client, tag: str, *, content: str | None = None) -> bool:
    """Whether ``tag`` exists (and, given ``content``, carries that content-hash label)."""
    from docker.errors import ImageNotFound

    try:
        image = client.images.get(tag)
    except ImageNotFound:
        return False
    return content is None or (image.labels or {}).get(HASH_LABEL) == content


def base_image_ready(client) -> bool:
    """The base image exists under its tag and was built from the current recipe."""
    return image_exists(client, base_image_tag(), content=content_hash())


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds on this machine (an exclusive ``flock`` on a file in the cache)."""
    path = cache_dir() / "sandboxes" / ".build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class BuildResult:
    tag: str
    """The image tag (empty when only a root filesystem was built)."""
    method: str
    """``cached``, ``export`` (root filesystem unpacked from an existing image), ``dockerfile`` or ``offline``."""
    seconds: float
    rootfs: str = ""
    """The bubblewrap root filesystem, when there is one."""


def build_base_image(
    method: str = "auto", *, client=None, docker: bool = True, rootfs: bool = True,
    mirror: str | None = None, force: bool = False, log: Callable[[str], None] = print,
) -> BuildResult:
    """Make sure the base image (``docker=True``) and its root filesystem (``rootfs=True``) exist."""
    if method not in METHODS:
        raise ValueError(f"unknown build method {method!r}; valid methods: {', '.join(METHODS)}")
    with build_lock():
        return _build(method, client=client, docker=docker, rootfs=rootfs, mirror=mirror, force=force, log=log)


def _build(method: str, *, client, docker: bool, rootfs: bool, mirror: str | None, force: bool,
           log: Callable[[str], None]) -> BuildResult:
    started = time.monotonic()
    tag, root = base_image_tag(), base_rootfs()
    if docker and not force and image_exists(client, tag) and not base_image_ready(client):
        log(f"{tag} exists but was not built from this recipe (content-hash label differs): rebuilding")
        force = True
    have_image = docker and not force and base_image_ready(client)
    have_root = not rootfs or (not force and rootfs_ready(root))
    if (have_image or not docker) and have_root:
        log(f"up to date: {tag if docker else root} (content hash unchanged)")
        return BuildResult(tag if docker else "", "cached", time.monotonic() - started, str(root) if rootfs else "")
    if have_image:  # only the root filesystem is missing: unpack it from the image
        log(f"exporting the root filesystem of {tag} to {root}")
        export_rootfs(client, tag, root)
        return BuildResult(tag, "export", time.monotonic() - started, str(root))
    chosen = _choose_method(method, client if docker else None)
    if chosen == "dockerfile":
        _docker_build(client, tag, log)
    else:
        _offline_build(tag, root, mirror, import_image=docker, reuse_rootfs=not force and rootfs_ready(root), log=log)
    if rootfs and not rootfs_ready(root):
        export_rootfs(client, tag, root)
    return BuildResult(tag if docker else "", chosen, time.monotonic() - started, str(root) if rootfs else "")


def _choose_method(method: str, client) -> str:
    if method != "auto":
        return method
    if client is not None and image_exists(client, DOCKERFILE_FROM):
        return "dockerfile"  # its base image is here: no registry needed
    if shutil.which("debootstrap") and os.geteuid() == 0:
        return "offline"
    if client is None:
        raise SandboxUnavailableError(
            "building the local root filesystem needs root and debootstrap (apt-get install debootstrap)"
        )
    return "dockerfile"


def _docker_build(client, tag: str, log: Callable[[str], None]) -> None:
    from docker.errors import BuildError

    log(f"docker build {sandboxes_dir() / 'base'} -> {tag}")
    try:
        client.images.build(
            path=str(sandboxes_dir() / "base"), tag=tag, rm=True, labels={HASH_LABEL: content_hash()},
        )
    except BuildError as exc:
        raise SandboxError(
            f"docker build failed ({exc}). Without a registry, build offline instead: "
            "agentrl sandbox build --method offline (needs root and debootstrap)"
        ) from exc


def _offline_build(tag: str, root: Path, mirror: str | None, *, import_image: bool, reuse_rootfs: bool,
                   log: Callable[[str], None]) -> None:
    script = sandboxes_dir() / "base" / "build-offline.sh"
    env = dict(
        os.environ, AGENTRL_CONTENT_HASH=content_hash(), AGENTRL_SKIP_IMPORT="0" if import_image else "1",
        AGENTRL_REUSE_ROOTFS="1" if reuse_rootfs else "0",
    )
    command = ["bash", str(script), tag, str(root)] + ([mirror] if mirror else [])
    log(f"offline build: {' '.join(command[1:])}")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SandboxError(f"offline build failed (exit {completed.returncode}):\n{completed.stderr[-4000:]}")


def export_rootfs(client, tag: str, dest: Path) -> None:
    """Unpack an image's filesystem into ``dest`` (for the bubblewrap backend)."""
    if client is None:
        raise SandboxUnavailableError(f"no root filesystem at {dest} and no Docker engine to export one from")
    staging = dest.with_name(f"{dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    container = client.containers.create(tag, command=["true"], network_mode="none")
    try:
        reader = _StreamReader(container.export())
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for member in archive:
                if member.isdev():
                    continue  # bubblewrap mounts its own /dev
                archive.extract(member, staging, set_attrs=member.isreg() or member.isdir(), filter="tar")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        container.remove(force=True)
    (staging / "testbed").mkdir(exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


class _StreamReader:
    """A file-like view of an iterator of byte chunks (what ``container.export()`` returns)."""

    def __init__(self, chunks) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
