"""The export formats: per format, its writer, the runtime that proves it, the optional
packages it needs and the README line that says how to call it.

A new format is one more entry in FORMATS: a writer that puts its files in the folder,
and the runner class and file the parity check loads. `--format all` writes the model
formats (ALL_FORMATS); the static web page is asked for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gan.export import onnxruntime_web, runners, web_site, writers

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Options:
    """What the user chose beyond the format: each writer reads the field it needs."""

    quantize: str | None = None  # --quantize, for the formats that take it
    onnxruntime_web: Path | None = None  # --onnxruntime-web DIR; None: fetched with npm


Writer = Callable[["keras.Model", Path, Options], list[Path]]


def _no_check(options: Options) -> None:
    return None


@dataclass(frozen=True)
class Format:
    name: str
    write: Writer  # (float32 generator, folder, options) -> the paths written in folder
    runner: Callable[[Path], Callable]  # a class of gan.export.runners
    entry: str  # what the runner opens, relative to the folder ("." is the folder itself)
    packages: tuple[str, ...]  # import names beyond TensorFlow and Keras
    quantizable: bool  # takes --quantize
    how_to_call: str  # its README.md line, paths relative to the export folder
    check: Callable[[Options], None] = _no_check  # raises UserError before any work where the options cannot serve


def _savedmodel(generator: "keras.Model", folder: Path, options: Options) -> list[Path]:
    return writers.write_savedmodel(generator, folder)


def _onnx(generator: "keras.Model", folder: Path, options: Options) -> list[Path]:
    return [writers.write_onnx(generator, folder)]


def _tflite(generator: "keras.Model", folder: Path, options: Options) -> list[Path]:
    return [writers.write_tflite(generator, folder, options.quantize)]


def _web(generator: "keras.Model", folder: Path, options: Options) -> list[Path]:
    return web_site.write_site(generator, folder, options.onnxruntime_web)


def _web_check(options: Options) -> None:
    onnxruntime_web.check_source(options.onnxruntime_web)


FORMATS = {
    "savedmodel": Format(
        "savedmodel", _savedmodel, runners.SavedModelRunner, ".", (), False,
        "SavedModel (saved_model.pb, variables/): `tf.saved_model.load(\".\").serve(noise).numpy()`; "
        "TF Serving and the TF.js converter read the same folder (signature `serving_default`, input `noise`).",
    ),
    "onnx": Format(
        "onnx", _onnx, runners.OnnxRunner, writers.ONNX_FILE, ("tf2onnx", "onnx", "onnxruntime"), False,
        f"ONNX ({writers.ONNX_FILE}, opset {writers.ONNX_OPSET}): "
        f"`onnxruntime.InferenceSession(\"{writers.ONNX_FILE}\").run([\"image\"], {{\"noise\": noise}})[0]`; "
        "any ONNX runtime (C++, C#, Java, JavaScript) takes the same input `noise` and output `image`.",
    ),
    "tflite": Format(
        "tflite", _tflite, runners.TFLiteRunner, writers.TFLITE_FILE, ("ai_edge_litert",), True,
        f"TFLite ({writers.TFLITE_FILE}): `from ai_edge_litert.interpreter import Interpreter; "
        f"i = Interpreter(\"{writers.TFLITE_FILE}\"); n = i.get_input_details()[0][\"index\"]; "
        "i.resize_tensor_input(n, noise.shape); i.allocate_tensors(); i.set_tensor(n, noise); i.invoke(); "
        "images = i.get_tensor(i.get_output_details()[0][\"index\"])`; on Android the same calls exist in LiteRT's Interpreter.",
    ),
    "web": Format(
        "web", _web, runners.OnnxRunner, writers.ONNX_FILE, ("tf2onnx", "onnx", "onnxruntime"), False,
        f"Static page (index.html, {writers.ONNX_FILE}, onnxruntime-web {onnxruntime_web.VERSION}'s WebAssembly): "
        "serve the folder from any static host, e.g. `python -m http.server -d .`, and open it; seeds 0 to "
        f"{web_site.NOISE_SEEDS - 1} show generate.py's faces; in the page's JavaScript, "
        "`await makeFaces(noise, n)` turns a Float32Array of n noise vectors into uint8 pixels (n, H, W, C).",
        _web_check,
    ),
}
ALL = "all"
ALL_FORMATS = ("savedmodel", "onnx", "tflite")  # the model files; the web page is asked for by name
CHOICES = (*FORMATS, ALL)


def chosen(name: str) -> list[Format]:
    """The formats `--format name` writes: one, or the model formats for `all`."""
    return [FORMATS[format_name] for format_name in ALL_FORMATS] if name == ALL else [FORMATS[name]]
