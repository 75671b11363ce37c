"""The export formats: per format, its writer, the runtime that proves it, the optional
packages it needs and the README line that says how to call it.

A new format (the static web page, say) is one more entry in FORMATS: a writer that
puts its files in the folder, and the runner class and file the parity check loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gan.export import runners, writers

if TYPE_CHECKING:
    import keras

Writer = Callable[["keras.Model", Path, "str | None"], list[Path]]


@dataclass(frozen=True)
class Format:
    name: str
    write: Writer  # (float32 generator, folder, quantize) -> the paths written in folder
    runner: Callable[[Path], Callable]  # a class of gan.export.runners
    entry: str  # what the runner opens, relative to the folder ("." is the folder itself)
    packages: tuple[str, ...]  # import names beyond TensorFlow and Keras
    quantizable: bool  # takes --quantize
    how_to_call: str  # its README.md line, paths relative to the export folder


def _savedmodel(generator: "keras.Model", folder: Path, quantize: str | None) -> list[Path]:
    return writers.write_savedmodel(generator, folder)


def _onnx(generator: "keras.Model", folder: Path, quantize: str | None) -> list[Path]:
    return [writers.write_onnx(generator, folder)]


def _tflite(generator: "keras.Model", folder: Path, quantize: str | None) -> list[Path]:
    return [writers.write_tflite(generator, folder, quantize)]


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
}
ALL = "all"
CHOICES = (*FORMATS, ALL)


def chosen(name: str) -> list[Format]:
    """The formats `--format name` writes: one, or every one for `all`."""
    return list(FORMATS.values()) if name == ALL else [FORMATS[name]]
