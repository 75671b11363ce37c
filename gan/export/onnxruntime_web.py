"""The onnxruntime-web files a static page needs to run generator.onnx in the browser's
WebAssembly: from the npm package at export time, or from a folder the user gives.

Only the WebAssembly build is taken (its script, its module loader and its .wasm, about
14 MB): the page needs no WebGL or WebGPU backend, and one pinned version keeps the
page's numbers the ones the parity test measured. The files are read out of the npm
tarball by name, so nothing in it is unpacked to a path of its own choosing.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from gan.errors import UserError

PACKAGE, VERSION = "onnxruntime-web", "1.30.0"
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
FLAG = "--onnxruntime-web"
HOW_TO_FIX = (f"install npm (apt-get install npm) so that export.py fetches {PACKAGE}@{VERSION}, or give {FLAG} DIR, "
              f"the dist/ folder of that npm package")


def dist_folder(folder: Path) -> Path:
    """The folder holding FILES: `folder` itself, or the dist/ of an unpacked package."""
    return folder / "dist" if (folder / "dist" / FILES[0]).is_file() else folder


def check_source(folder: Path | None) -> None:
    """Raise UserError, before any work, unless the files can be had: `folder` holds them,
    or (without a folder) npm is there to fetch them."""
    if folder is None:
        if shutil.which("npm") is None:
            raise UserError(f"--format web needs the {PACKAGE} files and npm is not installed: {HOW_TO_FIX}")
        return
    absent = [name for name in FILES if not (dist_folder(folder) / name).is_file()]
    if absent:
        raise UserError(f"{FLAG} {folder} lacks {', '.join(absent)}: give the dist/ folder of the npm package {PACKAGE}@{VERSION}")


def copy_runtime(destination: Path, folder: Path | None) -> list[Path]:
    """FILES in `destination`, from `folder` or from the npm package fetched now."""
    if folder is not None:
        return [Path(shutil.copyfile(dist_folder(folder) / name, destination / name)) for name in FILES]
    with tempfile.TemporaryDirectory() as download:
        with tarfile.open(npm_pack(Path(download))) as tarball:
            for name in FILES:
                try:
                    (destination / name).write_bytes(tarball.extractfile(f"package/dist/{name}").read())
                except KeyError:
                    raise UserError(f"npm's {PACKAGE}@{VERSION} lacks dist/{name}: give {FLAG} DIR") from None
    return [destination / name for name in FILES]


def npm_pack(folder: Path) -> Path:
    """The package's tarball, downloaded by `npm pack` into `folder` (npm's cache serves repeats)."""
    try:
        result = subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(folder), "--silent"],
                                capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UserError(f"npm pack {PACKAGE}@{VERSION} failed ({error}): {HOW_TO_FIX}") from None
    tarballs = sorted(folder.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        reason = (result.stderr.strip().splitlines() or ["no tarball"])[-1]
        raise UserError(f"npm pack {PACKAGE}@{VERSION} failed ({reason}): {HOW_TO_FIX}")
    return tarballs[0]
