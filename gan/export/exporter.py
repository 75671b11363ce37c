"""export.py's library side: a generator file in, a new folder of proven exports out.

The order keeps every failure cheap and clean: the folder and the optional packages are
checked, and the generator loaded, before anything is written; the files are then
written and checked one format at a time in a staged folder that becomes the target only
when every format has passed (gan.export.staging).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from gan.errors import UserError
from gan.export.float32 import compute_precisions, float32_copy
from gan.export.formats import Format, Options, chosen
from gan.export.manifest import OUTPUT_RANGE, format_entry, versions, write_manifest
from gan.export.packages import require
from gan.export.parity import ParityError, measure, parity_noise
from gan.export.staging import staged_folder
from gan.pictures.latent import generate, load_generator
from gan.runs.folder import check_new_folder, model_step

if TYPE_CHECKING:
    import keras

SOFTWARE = ["tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"]


def check_request(formats: list[Format], options: Options, out: Path) -> None:
    """Everything about the request that can fail before the generator is even loaded."""
    check_new_folder(out, "-o")
    quantize = options.quantize
    if quantize is not None and not any(spec.quantizable for spec in formats):
        names = ", ".join(spec.name for spec in formats)
        raise UserError(f"--quantize applies only to --format tflite (or all); received --format {names}")
    if options.onnxruntime_web is not None and "web" not in [spec.name for spec in formats]:
        raise UserError("--onnxruntime-web applies only to --format web")
    for spec in formats:
        require(spec.packages, f"--format {spec.name}")
        spec.check(options)
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"exports are traced by TensorFlow; run export.py with KERAS_BACKEND unset (it is {keras.backend.backend()!r})")


def describe(original: "keras.Model", model_file: Path, run: Path | None) -> dict:
    """export.json's fields that do not depend on the formats."""
    trained = [name for name in compute_precisions(original) if name != "float32"]
    return {
        "run": None if run is None else str(run),
        "step": model_step(model_file),
        "generator": str(model_file),
        "trained_precision": trained[0] if trained else "float32",
        "export_precision": "float32",
        "noise": {"name": "noise", "shape": [None, *original.input_shape[1:]], "dtype": "float32",
                  "distribution": "standard normal: numpy.random.default_rng(seed).standard_normal"},
        "image": {"name": "image", "shape": [None, *original.output_shape[1:]], "dtype": "float32", "range": OUTPUT_RANGE},
        "formats": {},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_and_check(generator: "keras.Model", spec: Format, folder: Path, options: Options, out: Path) -> dict:
    """Write one format into `folder`, run it in its own runtime, and return its
    export.json entry; raise ParityError if it does not compute what Keras computes."""
    quantize = options.quantize if spec.quantizable else None
    noise = parity_noise(tuple(generator.input_shape[1:]))
    expected = generate(generator, noise)
    paths = spec.write(generator, folder, Options(quantize, options.onnxruntime_web))
    parity = measure(spec.runner, folder / spec.entry, expected, noise, quantize)
    if not parity.passed:
        raise ParityError(
            f"{spec.name}: the {parity.criterion.replace('_', ' ')} from the float32 Keras generator on {parity.noise} is "
            f"{parity.measured:.3g}, over the limit {parity.tolerance:g}; nothing was written at {out}"
        )
    return format_entry(paths, parity.as_json(), quantize)


def export_generator(model_file: Path, out: Path, format_name: str, quantize: str | None = None,
                     run: Path | None = None, onnxruntime_web: Path | None = None) -> dict:
    """Export the generator saved at `model_file` as `format_name` (a key of FORMATS, or
    "all") into the new folder `out`, and return what export.json records.
    `onnxruntime_web` is the folder of onnxruntime-web's files for the web page (None: npm)."""
    formats = chosen(format_name)
    options = Options(quantize, onnxruntime_web)
    check_request(formats, options, out)
    original = load_generator(model_file)
    generator = float32_copy(original)
    manifest = describe(original, model_file, run)
    with staged_folder(out) as folder:
        for spec in formats:
            manifest["formats"][spec.name] = write_and_check(generator, spec, folder, options, out)
        manifest["software"] = versions(SOFTWARE)
        write_manifest(folder, manifest, {spec.name: spec.how_to_call for spec in formats})
    return manifest
