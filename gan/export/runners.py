"""Each format's own runtime behind one call, `runner(noise) -> images`, numpy in and out.

The parity check runs exported files through these, and so can any program that wants
images from an export: noise float32 (batch, *noise_shape) -> images float32
(batch, H, W, C) in [-1, 1]. Each runtime is imported only when its runner is made, and
OnnxRunner needs nothing but numpy and onnxruntime (no TensorFlow, no Keras).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OnnxRunner:
    """generator.onnx through onnxruntime's CPU provider."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path):
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.noise_shape = tuple(self.input.shape[1:])

    def __call__(self, noise: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input.name: np.asarray(noise, dtype=np.float32)})[0]


class TFLiteRunner:
    """generator.tflite through the LiteRT interpreter, its input resized to each batch."""

    runtime = "ai-edge-litert"

    def __init__(self, path: str | Path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path))
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.noise_shape = tuple(int(size) for size in self.input["shape"][1:])
        self.interpreter.allocate_tensors()

    def __call__(self, noise: np.ndarray) -> np.ndarray:
        noise = np.asarray(noise, dtype=np.float32)
        self.interpreter.resize_tensor_input(self.input["index"], noise.shape)
        self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.input["index"], noise)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).copy()


class SavedModelRunner:
    """A SavedModel folder through TensorFlow: `tf.saved_model.load(folder).serve`."""

    runtime = "tensorflow"

    def __init__(self, folder: str | Path):
        import tensorflow as tf

        self.model = tf.saved_model.load(str(folder))
        self.noise_shape = tuple(self.model.serve.input_signature[0].shape[1:])

    def __call__(self, noise: np.ndarray) -> np.ndarray:
        return self.model.serve(np.asarray(noise, dtype=np.float32)).numpy()
