"""export.py: SavedModel, ONNX and TFLite files that their own runtimes run like Keras.

The generator is trained in mixed_bfloat16, the default on CPUs with bfloat16 units, so
that every export goes through the float32 rebuild. Tests that need the optional
exporters skip with a reason where requirements-export.txt is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan.errors import UserError
from gan.export import packages, parity, runners
from gan.export.exporter import export_generator
from gan.export.parity import ParityError
from gan.export.staging import staged_folder
from gan.pictures.latent import generate, load_generator, seed_noise
from gan.runs.folder import newest_generator
from tests.conftest import PROJECT_ROOT, TINY_RUN_FLAGS, run_script


def _needs(*modules: str) -> pytest.MarkDecorator:
    absent = packages.missing(modules)
    return pytest.mark.skipif(bool(absent), reason=f"needs {', '.join(absent)}: pip install -r requirements-export.txt (the dev file includes it)")


needs_onnx = _needs("tf2onnx", "onnx", "onnxruntime")
needs_litert = _needs("ai_edge_litert")
needs_all = _needs("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert")
FILES = {"savedmodel": ["saved_model.pb", "variables"], "onnx": ["generator.onnx"], "tflite": ["generator.tflite"]}
FORMAT_MARKS = {"savedmodel": (), "onnx": (needs_onnx,), "tflite": (needs_litert,)}


@pytest.fixture(scope="module")
def bf16_run(data_folder, tmp_path_factory) -> Path:
    """A tiny run trained in mixed_bfloat16 (the flag given last wins over TINY_FLAGS' off)."""
    out = tmp_path_factory.mktemp("export-runs") / "bf16"
    result = run_script("train.py", "--data", str(data_folder), "--out", str(out), "--seed", "5", *TINY_RUN_FLAGS,
                        "--mixed-precision", "mixed_bfloat16")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def float32_keras(bf16_run):
    """The float32 Keras generator every export is held to, and the parity noise."""
    from gan.export.float32 import float32_copy

    generator = float32_copy(load_generator(newest_generator(bf16_run)))
    return generator, seed_noise(0, 5, tuple(generator.input_shape[1:]))


@pytest.fixture(scope="module")
def exported_all(bf16_run, tmp_path_factory) -> Path:
    if packages.missing(("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert")):
        pytest.skip("needs the exporters: pip install -r requirements-export.txt (the dev file includes it)")
    out = tmp_path_factory.mktemp("exports") / "all"
    result = run_script("export.py", str(bf16_run), "--format", "all", "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "export.json").read_text())


def _leftovers(parent: Path) -> list[str]:
    return [path.name for path in parent.iterdir() if ".partial-" in path.name]


def test_the_float32_copy_has_the_same_weights_and_computes_in_float32(bf16_run, float32_keras):
    original = load_generator(newest_generator(bf16_run))
    copy, noise = float32_keras
    assert {layer.dtype_policy.name for layer in original.layers} == {"mixed_bfloat16", "float32"}
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    for kept, copied in zip(original.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, copied)
    # bfloat16 keeps 8 bits of mantissa: the two agree, but only to bfloat16's precision
    np.testing.assert_allclose(generate(copy, noise), generate(original, noise), atol=0.1)


@pytest.mark.parametrize("name", [pytest.param(name, marks=marks) for name, marks in FORMAT_MARKS.items()])
def test_each_format_exports_alone_with_its_parity_proven(bf16_run, tmp_path, name):
    out = tmp_path / name
    result = run_script("export.py", str(bf16_run), "--format", name, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert all((out / file).exists() for file in FILES[name])
    manifest = _manifest(out)
    assert list(manifest["formats"]) == [name]
    check = manifest["formats"][name]["parity"]
    assert check["passed"] and check["max_abs_diff"] <= 1e-4 and check["criterion"] == "max_abs_diff"
    assert f"largest {check['max_abs_diff']:.1e}" in result.stdout
    assert _leftovers(tmp_path) == []


@needs_all
def test_every_runtime_matches_the_float32_keras_generator_on_five_noise_vectors(exported_all, float32_keras):
    import onnxruntime
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    generator, noise = float32_keras
    expected = generate(generator, noise)
    saved = tf.saved_model.load(str(exported_all))
    assert "serving_default" in saved.signatures
    session = onnxruntime.InferenceSession(str(exported_all / "generator.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["noise"] and [o.name for o in session.get_outputs()] == ["image"]
    interpreter = Interpreter(model_path=str(exported_all / "generator.tflite"))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], [5, *noise.shape[1:]])
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], noise)
    interpreter.invoke()
    outputs = {
        "savedmodel": saved.serve(noise).numpy(),
        "onnx": session.run(["image"], {"noise": noise})[0],
        "tflite": interpreter.get_tensor(interpreter.get_output_details()[0]["index"]),
    }
    for name, images in outputs.items():
        assert images.shape == (5, 16, 16, 1), name
        assert np.abs(images - expected).max() <= 1e-4, name


@needs_all
@pytest.mark.parametrize("runner, entry", [
    (runners.SavedModelRunner, "."), (runners.OnnxRunner, "generator.onnx"), (runners.TFLiteRunner, "generator.tflite"),
])
def test_one_file_makes_one_image_or_five_hundred(exported_all, float32_keras, runner, entry):
    generator, _ = float32_keras
    run = runner(exported_all / entry)
    assert run.noise_shape == (1, 1, 8)
    for count in (1, 500, 3):
        noise = seed_noise(count, count, run.noise_shape)
        images = run(noise)
        assert images.shape == (count, 16, 16, 1)
        assert np.abs(images - generate(generator, noise)).max() <= 1e-4


BLOCK_TENSORFLOW = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ImportError("no " + name + " here")
sys.meta_path.insert(0, Block())
"""


@needs_all
def test_the_onnx_runner_needs_no_tensorflow(exported_all, float32_keras):
    generator, noise = float32_keras
    script = BLOCK_TENSORFLOW + (
        "import numpy as np\nfrom gan.export.runners import OnnxRunner\n"
        "np.save(sys.argv[2], OnnxRunner(sys.argv[1])(np.load(sys.argv[3])))\n"
    )
    folder = exported_all.parent
    np.save(folder / "noise.npy", noise)
    result = subprocess.run([sys.executable, "-c", script, str(exported_all / "generator.onnx"), str(folder / "images.npy"),
                             str(folder / "noise.npy")], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert np.abs(np.load(folder / "images.npy") - generate(generator, noise)).max() <= 1e-4


@needs_all
def test_export_json_and_the_readme_say_how_to_use_the_files(exported_all, bf16_run):
    manifest = _manifest(exported_all)
    assert manifest["noise"]["shape"] == [None, 1, 1, 8] and manifest["noise"]["dtype"] == "float32"
    assert manifest["image"]["shape"] == [None, 16, 16, 1] and manifest["image"]["range"] == [-1.0, 1.0]
    assert manifest["run"] == str(bf16_run) and manifest["step"] == 25
    assert manifest["trained_precision"] == "mixed_bfloat16" and manifest["export_precision"] == "float32"
    assert manifest["generator"] == str(bf16_run / "models" / "generator_25.keras")
    for name, entry in manifest["formats"].items():
        assert entry["parity"]["passed"] and entry["parity"]["runtime"]
        assert entry["files"]["generator.onnx" if name == "onnx" else "generator.tflite" if name == "tflite" else "saved_model.pb"] > 0
        assert entry["bytes"] == sum(entry["files"].values())
    assert manifest["formats"]["onnx"]["bytes"] == (exported_all / "generator.onnx").stat().st_size
    readme = (exported_all / "README.md").read_text()
    assert "tf.saved_model.load" in readme and "onnxruntime.InferenceSession" in readme and "resize_tensor_input" in readme
    assert "standard_normal((n, 1, 1, 8)" in readme


@needs_all
def test_the_savedmodel_stores_each_weight_once(exported_all, float32_keras):
    import tensorflow as tf

    generator, _ = float32_keras
    reader = tf.train.load_checkpoint(str(exported_all / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items() if "VARIABLE_VALUE" in name)
    assert stored == generator.count_params()


@needs_litert
@pytest.mark.parametrize("quantize", ["float16", "int8"])
def test_quantized_tflite_is_smaller_and_held_to_its_own_limit(bf16_run, tmp_path, quantize):
    out = tmp_path / quantize
    result = run_script("export.py", str(bf16_run), "--format", "tflite", "--quantize", quantize, "-o", str(out))
    assert result.returncode == 0, result.stderr
    entry = _manifest(out)["formats"]["tflite"]
    assert entry["quantize"] == quantize == entry["precision"]
    assert entry["parity"]["criterion"] == "mean_abs_diff"
    assert entry["parity"]["tolerance"] == parity.QUANTIZED_TOLERANCES[quantize]
    assert entry["parity"]["mean_abs_diff"] <= entry["parity"]["tolerance"]
    weights = 4 * load_generator(newest_generator(bf16_run)).count_params()
    assert entry["bytes"] < weights * (0.6 if quantize == "float16" else 0.35)


def test_it_exports_the_generator_generate_py_would_use_or_the_one_given(bf16_run, tmp_path):
    run = tmp_path / "ema-run"
    shutil.copytree(bf16_run, run)
    shutil.copy(run / "models" / "generator_20.keras", run / "models" / "ema_generator_25.keras")
    result = run_script("export.py", str(run), "--format", "savedmodel", "-o", str(tmp_path / "ema"))
    assert result.returncode == 0, result.stderr
    assert _manifest(tmp_path / "ema")["generator"] == str(run / "models" / "ema_generator_25.keras")
    chosen = run / "models" / "generator_10.keras"
    result = run_script("export.py", str(run), "--generator", str(chosen), "--format", "savedmodel", "-o", str(tmp_path / "given"))
    assert result.returncode == 0, result.stderr
    manifest = _manifest(tmp_path / "given")
    assert manifest["generator"] == str(chosen) and manifest["step"] == 10 and manifest["run"] == str(run)


def _export_patched(patch: str, *args: str) -> subprocess.CompletedProcess:
    """export.py in a fresh interpreter after running `patch`, to make parity fail."""
    launcher = f"{patch}\nimport runpy, sys\nsys.argv = ['export.py', *{list(args)!r}]\nrunpy.run_path({str(PROJECT_ROOT / 'export.py')!r}, run_name='__main__')\n"
    return subprocess.run([sys.executable, "-c", launcher], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)))


def test_a_failed_parity_check_exits_1_and_leaves_nothing(bf16_run, tmp_path):
    out = tmp_path / "export"
    result = _export_patched("import gan.export.parity as p; p.TOLERANCE = -1.0", str(bf16_run), "--format", "savedmodel", "-o", str(out))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().startswith("error: savedmodel: the max abs diff") and "Traceback" not in result.stderr
    assert not out.exists() and _leftovers(tmp_path) == []


@needs_onnx
def test_a_runtime_that_computes_something_else_fails_the_export(bf16_run, tmp_path, monkeypatch):
    original = runners.OnnxRunner.__call__
    monkeypatch.setattr(runners.OnnxRunner, "__call__", lambda self, noise: original(self, noise) + 1e-3)
    out = tmp_path / "export"
    with pytest.raises(ParityError, match=r"onnx: the max abs diff .* is 0\.001"):
        export_generator(newest_generator(bf16_run), out, "onnx", run=bf16_run)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_an_interrupted_export_leaves_no_half_model(bf16_run, tmp_path, monkeypatch):
    from gan.export import writers

    def interrupted(generator, folder):
        (folder / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(writers, "write_savedmodel", interrupted)
    out = tmp_path / "export"
    with pytest.raises(KeyboardInterrupt):
        export_generator(newest_generator(bf16_run), out, "savedmodel", run=bf16_run)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_the_staged_folder_becomes_the_target_only_when_complete(tmp_path):
    (tmp_path / "empty").mkdir()
    with staged_folder(tmp_path / "empty") as folder:
        (folder / "model").write_text("whole")
        assert not (tmp_path / "empty" / "model").exists()
    assert (tmp_path / "empty" / "model").read_text() == "whole" and _leftovers(tmp_path) == []


def _bad_runs(bf16_run: Path, tmp_path: Path) -> dict[str, Path]:
    no_generator = tmp_path / "no-generator"
    (no_generator / "models").mkdir(parents=True)
    shutil.copy(bf16_run / "config.json", no_generator / "config.json")
    damaged = tmp_path / "damaged"
    (damaged / "models").mkdir(parents=True)
    shutil.copy(bf16_run / "config.json", damaged / "config.json")
    (damaged / "models" / "generator_25.keras").write_bytes(b"PK\x03\x04 not a whole zip")
    return {"missing": tmp_path / "no-such-run", "no-generator": no_generator, "damaged": damaged, "good": bf16_run}


@pytest.mark.parametrize("case, run, flags, message", [
    ("missing run", "missing", ["--format", "savedmodel"], "no such run folder"),
    ("run with no generator", "no-generator", ["--format", "savedmodel"], "no generator_NNNN.keras saves"),
    ("unknown format", "good", ["--format", "caffe"], "invalid choice: 'caffe'"),
    ("non-empty DIR", "good", ["--format", "savedmodel"], "already holds files"),
    ("damaged .keras file", "damaged", ["--format", "savedmodel"], "could not load a Keras model"),
    ("missing --generator", "good", ["--format", "savedmodel", "--generator", "nowhere.keras"], "no such generator file"),
    ("--quantize without tflite", "good", ["--format", "savedmodel", "--quantize", "int8"], "--quantize applies only to --format tflite"),
])
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(bf16_run, tmp_path, case, run, flags, message):
    runs = _bad_runs(bf16_run, tmp_path)
    out = tmp_path / "exports" / "out"
    if case == "non-empty DIR":
        out.mkdir(parents=True)
        (out / "keep.txt").write_text("mine")
    result = run_script("export.py", str(runs[run]), *flags, "-o", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert result.stdout == ""
    if case == "non-empty DIR":
        assert [path.name for path in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists() and not out.parent.exists()


def test_a_missing_exporter_is_named_with_its_pip_command_before_any_work(bf16_run, tmp_path, monkeypatch):
    real = packages.importlib.util.find_spec
    monkeypatch.setattr(packages.importlib.util, "find_spec", lambda name: None if name == "tf2onnx" else real(name))
    out = tmp_path / "export"
    with pytest.raises(UserError, match=r"--format onnx needs tf2onnx: pip install -r requirements-export.txt \(or pip install tf2onnx==1\.17\.0\)"):
        export_generator(newest_generator(bf16_run), out, "all", run=bf16_run)
    assert list(tmp_path.iterdir()) == []


def _generators() -> dict:
    """One generator of each architecture the presets build, small."""
    from gan.training import networks

    return {
        "recipe, bilinear upsampling": lambda: networks.get_gen_normal((1, 1, 8), 16, 3, upsample="bilinear"),
        "dcgan": lambda: networks.dcgan_generator(8, 16, 1),
        "mlp": lambda: networks.mlp_generator(8),
        "bilinear": lambda: networks.bilinear_generator(8),
    }


@needs_all
@pytest.mark.parametrize("architecture", list(_generators()))
def test_every_architecture_exports_with_parity(tmp_path, architecture):
    import keras

    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        generator = _generators()[architecture]()
    finally:
        keras.config.set_dtype_policy("float32")
    generator.save(tmp_path / "generator.keras")
    manifest = export_generator(tmp_path / "generator.keras", tmp_path / "export", "all")
    assert manifest["noise"]["shape"] == [None, *generator.input_shape[1:]]
    assert all(entry["parity"]["max_abs_diff"] <= 1e-4 for entry in manifest["formats"].values())
