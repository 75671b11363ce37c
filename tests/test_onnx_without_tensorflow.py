"""Faces from an exported generator.onnx in processes where TensorFlow and Keras cannot be
imported: examples/generate_onnx.py, and serve.py's page on an ONNX file or export folder."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT
from PIL import Image

from gan.export import packages
from gan.pictures.grids import make_grid, to_uint8, upscale
from gan.pictures.latent import generate, load_generator, seed_noise
from gan.runs.folder import newest_generator
from tests.test_export import BLOCK_TENSORFLOW

pytestmark = pytest.mark.skipif(bool(packages.missing(("tf2onnx", "onnx", "onnxruntime"))),
                                reason="needs tf2onnx, onnx, onnxruntime: pip install -r requirements-export.txt")
SCALE = 8  # the tiny run's 16x16 faces are served at 128x128


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> Path:
    """The tiny run (float32) exported as ONNX by export.py's library side."""
    from gan.export.exporter import export_generator

    out = tmp_path_factory.mktemp("onnx") / "export"
    export_generator(newest_generator(tiny_run[0]), out, "onnx", run=tiny_run[0])
    return out


@pytest.fixture(scope="module")
def keras_generator(tiny_run):
    return load_generator(newest_generator(tiny_run[0]))


def _without_tensorflow(script: Path, *args: str) -> list[str]:
    """argv for running `script` as __main__ in an interpreter that cannot import TensorFlow or Keras."""
    launcher = BLOCK_TENSORFLOW + f"import runpy\nsys.argv = [{str(script)!r}, *sys.argv[1:]]\nrunpy.run_path({str(script)!r}, run_name='__main__')\n"
    return [sys.executable, "-c", launcher, *args]


def _picture(path_or_bytes) -> np.ndarray:
    with Image.open(io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes) as image:
        pixels = np.asarray(image)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def test_the_example_draws_the_keras_generators_grid_without_tensorflow(exported, keras_generator, tmp_path):
    out = tmp_path / "grid.png"
    command = _without_tensorflow(PROJECT_ROOT / "examples" / "generate_onnx.py", str(exported / "generator.onnx"),
                                  "-n", "16", "--seed", "0", "-o", str(out))
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = make_grid(to_uint8(generate(keras_generator, seed_noise(0, 16, (1, 1, 8)))))
    grid = _picture(out)
    assert grid.shape == expected.shape == (70, 70, 1)
    assert np.abs(grid.astype(int) - expected).max() <= 1


def test_the_example_takes_the_export_folder_and_refuses_a_missing_file(exported, tmp_path):
    example = PROJECT_ROOT / "examples" / "generate_onnx.py"
    result = subprocess.run(_without_tensorflow(example, str(exported), "-n", "5", "-o", str(tmp_path / "five.png")),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _picture(tmp_path / "five.png").shape == (34, 52, 1)  # 3 x 2 faces of 16 with 2-pixel gaps
    result = subprocess.run(_without_tensorflow(example, str(tmp_path / "gone.onnx")), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == f"error: no such ONNX file: {tmp_path / 'gone.onnx'}"


def _serve_once(source: Path, query: str) -> tuple[list[str], dict]:
    """Start serve.py on `source` without TensorFlow, answer one GET, stop; (stdout lines, JSON)."""
    process = subprocess.Popen(_without_tensorflow(PROJECT_ROOT / "serve.py", str(source), "--port", "0"), cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)  \(Ctrl-C stops\)\n", lines[1])
        assert match, lines + [process.stderr.read() if process.poll() is not None else ""]
        with urllib.request.urlopen(match.group(1) + query, timeout=60) as response:
            body = json.loads(response.read())
        with urllib.request.urlopen(match.group(1) + "/", timeout=60) as response:
            page = response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return [*lines, page], body


def test_serve_makes_the_keras_faces_from_an_onnx_file_without_tensorflow(exported, keras_generator):
    (generator_line, _, page), body = _serve_once(exported / "generator.onnx", "/api/faces?n=4&seed=2")
    assert generator_line == f"Generator: {exported / 'generator.onnx'}\n"
    faces = np.stack([_picture(base64.b64decode(face)) for face in body["images"]])
    expected = upscale(to_uint8(generate(keras_generator, seed_noise(2, 4, (1, 1, 8)))), SCALE)
    assert faces.shape == expected.shape == (4, 128, 128, 1)
    assert np.abs(faces.astype(int) - expected).max() <= 1
    assert "generator.onnx" in page and "trained for <strong>25</strong> steps" in page  # the step from export.json


def test_serve_takes_the_export_folder(exported):
    (generator_line, _, _), body = _serve_once(exported, "/api/interpolate?a=1&b=2&steps=3")
    assert generator_line == f"Generator: {exported / 'generator.onnx'}\n" and len(body["images"]) == 3


def test_serve_refuses_a_damaged_or_missing_onnx_file_in_one_line(tmp_path):
    (tmp_path / "generator.onnx").write_bytes(b"not a model")
    for source, message in [(tmp_path / "generator.onnx", "could not load an ONNX model from "),
                            (tmp_path / "gone.onnx", "no such ONNX file: ")]:
        result = subprocess.run(_without_tensorflow(PROJECT_ROOT / "serve.py", str(source)), capture_output=True, text=True, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {message}{source}"), result.stderr


def test_serve_refuses_a_damaged_export_json_in_one_line(exported, tmp_path):
    (tmp_path / "generator.onnx").write_bytes((exported / "generator.onnx").read_bytes())
    (tmp_path / "export.json").write_text("[1, 2]\n")
    result = subprocess.run(_without_tensorflow(PROJECT_ROOT / "serve.py", str(tmp_path)), capture_output=True, text=True, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines == [f"error: {tmp_path / 'export.json'} is damaged (no training step in it): "
                                                "export again, or delete it to serve without the step"], result.stderr
