"""One writer per format: a float32 generator in, its files in a folder out.

Each goes through Keras' own export machinery: `Model.export` with format "onnx"
(tf2onnx) and "litert" (tf.lite.TFLiteConverter from a SavedModel that Keras writes on
the way), and its ExportArchive for the SavedModel. Written by hand is only what Keras
leaves out: a batch dimension left free in every signature, the ONNX graph's input and
output named `noise` and `image`, TFLite's quantisation settings (Keras passes them to
the converter unchanged), and a SavedModel that stores each weight once.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from gan.errors import UserError
from gan.pictures.latent import seed_noise

if TYPE_CHECKING:
    import keras

INPUT_NAME, OUTPUT_NAME, BATCH_NAME = "noise", "image", "batch"
ONNX_FILE, TFLITE_FILE = "generator.onnx", "generator.tflite"
SAVED_MODEL_FILES = ("saved_model.pb", "fingerprint.pb", "variables", "assets")
ONNX_OPSET = 17  # supported by onnxruntime >= 1.11, onnxruntime-web and OpenCV's DNN module
QUANTIZE_CHOICES = ("float16", "int8")
CALIBRATION_SEED, CALIBRATION_COUNT = 1, 100  # int8 calibration noise: not the parity check's seed


def noise_signature(generator: "keras.Model") -> list:
    """The one input: float32 noise of the generator's shape with any batch size."""
    import tensorflow as tf

    return [tf.TensorSpec((None, *generator.input_shape[1:]), tf.float32, name=INPUT_NAME)]


def write_savedmodel(generator: "keras.Model", folder: Path) -> list[Path]:
    """saved_model.pb and variables/ in `folder`, with the `serve` endpoint (and the
    `serving_default` signature) that `tf.saved_model.load(folder).serve(noise)` and TF
    Serving call.

    Keras' ExportArchive, without the `track(model)` that `Model.export` adds: on the
    TensorFlow backend that call stores every weight a second time (keras-team/keras
    issue 23553, open in Keras 3.15), doubling the file and the memory of every server
    that loads it. The endpoint alone captures each variable once.
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.add_endpoint("serve", functools.partial(generator.__call__, training=False), input_signature=noise_signature(generator))
    archive.write_out(str(folder), verbose=False)
    return [folder / name for name in SAVED_MODEL_FILES if (folder / name).exists()]


def write_onnx(generator: "keras.Model", folder: Path) -> Path:
    """folder/generator.onnx: input `noise` (batch, *noise shape), output `image`
    (batch, H, W, C) in [-1, 1], batch free. The web page's export reuses this."""
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    path = folder / ONNX_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Keras' numpy-2 patch of tf2onnx probes np.object
        generator.export(path, format="onnx", input_signature=noise_signature(generator), opset_version=ONNX_OPSET, verbose=False)
    _name_onnx_outputs(path)
    return path


def _name_onnx_outputs(path: Path) -> None:
    """tf2onnx names the output after TensorFlow's last op ('Identity:0') and the batch
    dimension 'unk__NN'; callers in other languages deserve `image` and `batch`."""
    import onnx

    model = onnx.load(path)
    old = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [OUTPUT_NAME if name == old else name for name in node.output]
        node.input[:] = [OUTPUT_NAME if name == old else name for name in node.input]
    model.graph.output[0].name = OUTPUT_NAME
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_NAME
    onnx.save(model, path)


def tflite_options(generator: "keras.Model", quantize: str | None) -> dict:
    """The converter settings for Keras' litert export. Built-in ops only, so the file
    runs in plain LiteRT on a phone (no TensorFlow "Flex" delegate). float16: weights
    stored in half precision, computed in float32 on CPUs. int8: weights and activations
    in 8 bits, calibrated on seeded noise (the generator's real input distribution),
    with float32 input and output so that callers do not change."""
    import tensorflow as tf

    target_spec: dict = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    if quantize is None:
        return {"target_spec": target_spec}
    if quantize not in QUANTIZE_CHOICES:
        raise UserError(f"--quantize must be one of {', '.join(QUANTIZE_CHOICES)}; received {quantize!r}")
    if quantize == "float16":
        return {"optimizations": [tf.lite.Optimize.DEFAULT], "target_spec": {**target_spec, "supported_types": [tf.float16]}}
    noise_shape = tuple(generator.input_shape[1:])
    calibration = seed_noise(CALIBRATION_SEED, CALIBRATION_COUNT, noise_shape)
    return {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "representative_dataset": lambda: ([vector[None]] for vector in calibration),
        "target_spec": target_spec,
    }


def write_tflite(generator: "keras.Model", folder: Path, quantize: str | None = None) -> Path:
    """folder/generator.tflite, batch free: resize_tensor_input to the batch, then allocate."""
    path = folder / TFLITE_FILE
    options = tflite_options(generator, quantize)
    generator.export(path, format="litert", input_signature=noise_signature(generator), verbose=False, **options)
    return path
