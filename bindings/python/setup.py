"""Builds the `mote` package: the Python sources plus libmote, copied into the package.

The library comes from the path in MOTE_LIB when set (an existing build, e.g.
target/release/libmote.so), else from `cargo build --release -p mote-ffi --lib` in the Mote
repository. The repository is found, in order, at MOTE_REPO_ROOT, two folders above this
file (a build in the source tree, as `pip install ./bindings/python` does), or at the path
recorded in a source distribution made from the tree (a build from an unpacked sdist in a
temporary folder, as `python -m build` and `pip install mote-*.tar.gz` do).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
RECORDED_ROOT = "MOTE_REPO_ROOT.txt"  # written into sdists by `sdist` below


def library_name():
    if sys.platform == "darwin":
        return "libmote.dylib"
    if sys.platform == "win32":
        return "mote.dll"
    return "libmote.so"


def is_repo(path):
    return (path / "ffi" / "Cargo.toml").is_file() and (path / "include" / "mote.h").is_file()


def repo_root():
    candidates = []
    if os.environ.get("MOTE_REPO_ROOT"):
        candidates.append(Path(os.environ["MOTE_REPO_ROOT"]))
    candidates.append(HERE.parent.parent)
    if (HERE / RECORDED_ROOT).is_file():
        candidates.append(Path((HERE / RECORDED_ROOT).read_text().strip()))
    for path in candidates:
        if is_repo(path):
            return path.resolve()
    return None


def version():
    """The library's version: from MOTE_LIB's library itself, else the workspace version in
    the repository's Cargo.toml, else the one recorded in an sdist's PKG-INFO."""
    if os.environ.get("MOTE_LIB") and Path(os.environ["MOTE_LIB"]).is_file():
        import ctypes

        lib = ctypes.CDLL(os.environ["MOTE_LIB"])
        lib.mote_version.restype = ctypes.c_char_p
        return lib.mote_version().decode()
    root = repo_root()
    if root is not None:
        toml = (root / "Cargo.toml").read_text()
        section = toml.split("[workspace.package]", 1)[1]
        return re.search(r'^version\s*=\s*"([^"]+)"', section, re.M).group(1)
    pkg_info = HERE / "PKG-INFO"
    if pkg_info.is_file():
        return re.search(r"^Version: (.+)$", pkg_info.read_text(), re.M).group(1).strip()
    raise SystemExit(
        "mote setup.py: cannot find the Mote repository: set MOTE_REPO_ROOT to it, or "
        "MOTE_LIB to a built libmote"
    )


def built_library():
    """The path of libmote to bundle: MOTE_LIB, or a fresh cargo build."""
    if os.environ.get("MOTE_LIB"):
        lib = Path(os.environ["MOTE_LIB"])
        if not lib.is_file():
            raise SystemExit(f"mote setup.py: MOTE_LIB={lib} is not a file")
        return lib
    root = repo_root()
    if root is None:
        raise SystemExit(
            "mote setup.py: cannot find the Mote repository to build libmote: set "
            "MOTE_REPO_ROOT to it, or MOTE_LIB to a built libmote"
        )
    cargo = os.environ.get("CARGO", "cargo")
    cmd = [cargo, "build", "--release", "-p", "mote-ffi", "--lib"]
    print("mote setup.py: " + " ".join(cmd) + f" (in {root})", flush=True)
    subprocess.run(cmd, cwd=root, check=True)
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps"],
        cwd=root,
        check=True,
        stdout=subprocess.PIPE,
    )
    target = Path(json.loads(meta.stdout)["target_directory"])
    return target / "release" / library_name()


class BuildPyWithLibrary(build_py):
    """build_py, then libmote copied into the built package."""

    def run(self):
        super().run()
        lib = built_library()
        dest = Path(self.build_lib) / "mote" / library_name()
        dest.parent.mkdir(parents=True, exist_ok=True)
        print(f"mote setup.py: bundling {lib}", flush=True)
        shutil.copyfile(lib, dest)


class SdistRecordingRoot(sdist):
    """sdist that records where the repository is, so a build from the unpacked archive
    (in a temporary folder, away from the tree) can still run cargo there."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        root = repo_root()
        if root is not None:
            Path(base_dir, RECORDED_ROOT).write_text(str(root) + "\n")


class PlatformDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform, not as pure Python."""

    def has_ext_modules(self):
        return True


setup(
    version=version(),
    cmdclass={"build_py": BuildPyWithLibrary, "sdist": SdistRecordingRoot},
    distclass=PlatformDistribution,
)
