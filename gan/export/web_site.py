"""--format web: a static folder that makes faces in the browser, with no server of its own.

    index.html, faces.js          the page (gan/export/web_page/)
    studio.css, faces.css         its look: the part serve.py's page shares, then its own
    generator.onnx                the same file as --format onnx, run by onnxruntime-web
    ort.wasm.min.js, ort-wasm-*   onnxruntime-web's WebAssembly backend (onnxruntime_web.py)
    noise.bin, site.json          the noise of seeds 0..NOISE_SEEDS-1, and its layout

The noise of a seed is numpy's default_rng(seed).standard_normal, which the browser
cannot draw: porting PCG64, SeedSequence and NumPy's float32 ziggurat to JavaScript would
be a few hundred lines of BigInt arithmetic to keep bit-exact. The export writes those
seeds' noise instead, so they show the faces `generate.py --seed` draws; the page draws
other seeds from a small documented JavaScript generator (faces.js), the same on every
visit but not numpy's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan.export import onnxruntime_web
from gan.export.writers import INPUT_NAME, ONNX_FILE, OUTPUT_NAME, write_onnx
from gan.pictures.latent import seed_noise

if TYPE_CHECKING:
    import keras

PAGE = Path(__file__).resolve().parent / "web_page"
PAGE_FILES = ("index.html", "faces.js", "studio.css", "faces.css")
NOISE_FILE, SITE_FILE = "noise.bin", "site.json"
NOISE_SEEDS, FACES_PER_SEED = 256, 16  # seeds 0..255, up to 16 faces each: 1.6 MB for 100 noise values


def noise_table(noise_shape: tuple[int, ...]) -> np.ndarray:
    """(NOISE_SEEDS, FACES_PER_SEED, *noise_shape) float32: row s is seed_noise(s, FACES_PER_SEED)."""
    return np.stack([seed_noise(seed, FACES_PER_SEED, noise_shape) for seed in range(NOISE_SEEDS)])


def site_description(generator: "keras.Model") -> dict:
    """site.json: what the page needs to know about the model and noise.bin."""
    return {
        "model": {"file": ONNX_FILE, "input": INPUT_NAME, "output": OUTPUT_NAME,
                  "noise_shape": list(generator.input_shape[1:]), "image_shape": list(generator.output_shape[1:])},
        "noise_table": {"file": NOISE_FILE, "dtype": "float32 little-endian", "seeds": NOISE_SEEDS,
                        "faces_per_seed": FACES_PER_SEED, "order": "seed, face, noise value",
                        "drawn_as": "numpy.random.default_rng(seed).standard_normal((faces_per_seed, *noise_shape), dtype=float32)"},
        "max_faces": FACES_PER_SEED,
    }


def write_site(generator: "keras.Model", folder: Path, onnxruntime_folder: Path | None) -> list[Path]:
    """The whole static site in `folder`; the top-level paths written."""
    runtime = onnxruntime_web.copy_runtime(folder, onnxruntime_folder)  # first: a failed download costs no conversion
    onnx_file = write_onnx(generator, folder)
    noise = noise_table(tuple(generator.input_shape[1:]))
    (folder / NOISE_FILE).write_bytes(noise.astype("<f4").tobytes())
    (folder / SITE_FILE).write_text(json.dumps(site_description(generator), indent=2) + "\n")
    page = [Path(shutil.copy2(PAGE / name, folder / name)) for name in PAGE_FILES]
    return [*page, onnx_file, folder / NOISE_FILE, folder / SITE_FILE, *runtime]
