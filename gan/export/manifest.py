"""export.json and README.md: what a program needs to call the export without this project.

export.json is for programs: the noise and image shapes, the output range, where the
generator came from, and per format its files, sizes and measured parity. README.md is
for people: how to make noise, one line per format on how to call it, and how to turn
the output into pixels.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

EXPORT_JSON, README = "export.json", "README.md"
OUTPUT_RANGE = [-1.0, 1.0]


def size_of(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SavedModel's variables/)."""
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def versions(distributions: list[str]) -> dict[str, str]:
    """The installed version of each distribution that wrote or checked the export."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def format_entry(paths: list[Path], parity: dict, quantize: str | None) -> dict:
    """One format's record: its top-level files with their sizes, the total, the parity."""
    files = {path.name: size_of(path) for path in paths}
    return {"files": files, "bytes": sum(files.values()), "quantize": quantize, "precision": quantize or "float32",
            "parity": parity}


def readme_text(manifest: dict, lines: dict[str, str]) -> str:
    """README.md: the noise, one line per format, and the pixels."""
    noise = manifest["noise"]["shape"][1:]
    shape = ", ".join(str(size) for size in ["n", *noise])
    step = f" (step {manifest['step']})" if manifest["step"] is not None else ""
    parts = [
        f"# Generator export: {manifest['generator']}{step}",
        "",
        f"Noise: `noise = numpy.random.default_rng(seed).standard_normal(({shape}), dtype=numpy.float32)`; "
        "the same seed gives the same images as `generate.py --seed seed`. Any batch size n works.",
        "",
        *(f"- {line}{_quantized(manifest['formats'][name])}" for name, line in lines.items()),
        "",
        f"Output: float32 images (n, {', '.join(str(s) for s in manifest['image']['shape'][1:])}) in [-1, 1]; "
        "pixels are `numpy.clip(numpy.rint((images + 1) * 127.5), 0, 255).astype(numpy.uint8)`. "
        "export.json has the shapes, the parity each file was checked to and the file sizes.",
        "",
    ]
    return "\n".join(parts)


def _quantized(entry: dict) -> str:
    if entry["quantize"] is None:
        return ""
    return (f" Quantised to {entry['quantize']}: its images differ from the float32 generator's by "
            f"{entry['parity']['mean_abs_diff']:.1e} on average (checked to {entry['parity']['tolerance']:g}).")


def write_manifest(folder: Path, manifest: dict, lines: dict[str, str]) -> None:
    (folder / EXPORT_JSON).write_text(json.dumps(manifest, indent=2) + "\n")
    (folder / README).write_text(readme_text(manifest, lines))
