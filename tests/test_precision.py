"""--mixed-precision: where `auto` picks bfloat16, and a bfloat16 run (with the average and
DiffAugment) from start to resume."""

import json

import keras
import numpy as np
import pytest
from conftest import TINY_FLAGS, run_script
from PIL import Image

from gan.pictures.grids import make_grid, to_uint8
from gan.runs.folder import RunDir
from gan.training import precision

AVX512_BF16 = {"fpu", "avx2", "avx512f", "avx512_bf16"}
AMX = {"fpu", "avx512f", "amx_tile", "amx_bf16"}
AVX2_ONLY = {"fpu", "avx", "avx2", "fma"}


@pytest.mark.parametrize(
    ("backend", "jit_compile", "flags", "gpus", "tpu", "one_dnn", "pays"),
    [
        ("tensorflow", False, AVX512_BF16, [], False, True, True),  # oneDNN's bfloat16 kernels
        ("tensorflow", False, AMX, [], False, True, True),
        ("tensorflow", False, AVX2_ONLY, [], False, True, False),  # emulated: slower than float32
        ("tensorflow", False, AVX512_BF16, [], False, False, False),  # TF_ENABLE_ONEDNN_OPTS=0: Eigen
        ("tensorflow", True, AVX512_BF16, [], False, True, False),  # XLA's CPU compiler: no bfloat16 kernels
        ("jax", True, AVX512_BF16, [], False, True, False),
        ("tensorflow", False, AVX2_ONLY, [(8, 0)], False, True, True),  # A100
        ("jax", True, AVX2_ONLY, [(9, 0), (9, 0)], False, True, True),  # H100s
        ("tensorflow", False, AVX512_BF16, [(7, 5)], False, True, False),  # T4: the GPU runs the step
        ("tensorflow", False, AVX2_ONLY, [(8, 6), (7, 0)], False, True, False),  # one GPU without bfloat16 units: float32 for all
        ("jax", True, set(), [], True, True, True),
    ],
)
def test_bfloat16_pays_only_where_the_engine_has_native_bfloat16(backend, jit_compile, flags, gpus, tpu, one_dnn, pays):
    assert precision.bfloat16_pays(backend, jit_compile, flags, gpus, tpu, one_dnn) is pays


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "absent") == set()


def test_resolve_makes_auto_concrete_and_passes_the_rest_through():
    this_machine = precision.bfloat16_pays("tensorflow", False, precision.cpu_flags(), [],
                                           one_dnn=precision.one_dnn_enabled())
    assert precision.resolve("auto", jit_compile=False) == ("mixed_bfloat16" if this_machine else "off")
    assert precision.resolve("auto", jit_compile=True) == "off"  # no GPU here: XLA on the CPU
    for concrete in ("off", "mixed_bfloat16", "mixed_float16"):
        assert precision.resolve(concrete, jit_compile=False) == concrete


def _generator_policy(run) -> str:
    path = next(RunDir(run, 1).models.glob("generator_*.keras"))
    return keras.saving.load_model(path, safe_mode=True).layers[1].dtype_policy.name


def test_auto_records_the_concrete_precision_and_builds_in_it(data_folder, tmp_path):
    flags = list(TINY_FLAGS)
    flags[flags.index("--mixed-precision") + 1] = "auto"
    result = run_script("train.py", "--data", str(data_folder), "--out", str(tmp_path / "run"), *flags, "--steps", "2")
    assert result.returncode == 0, result.stderr
    expected = precision.resolve("auto", jit_compile=False)
    assert f"Precision: {expected} (--mixed-precision auto: " in result.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["mixed_precision"] == expected
    assert _generator_policy(tmp_path / "run") == ("float32" if expected == "off" else expected)


def test_a_bfloat16_run_with_the_average_and_diffaugment_resumes_exactly_and_draws_with_the_average(data_folder, tmp_path):
    """One straight, stopped and resumed triple for the three things a resume must carry
    beyond the weights: the precision policy, the average and the augmentation's noise."""
    flags = [*TINY_FLAGS, "--mixed-precision", "mixed_bfloat16", "--ema", "0.9", "--diffaugment", "color,translation,cutout",
             "--save-every", "5", "--sample-every", "5", "--seed", "2"]
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert run_script("train.py", "--data", str(data_folder), "--out", str(straight), *flags, "--steps", "10").returncode == 0
    assert run_script("train.py", "--data", str(data_folder), "--out", str(stopped), *flags, "--steps", "5").returncode == 0
    result = run_script("train.py", "--resume", str(stopped), "--steps", "10")
    assert result.returncode == 0, result.stderr
    assert (stopped / "training_log.txt").read_text() == (straight / "training_log.txt").read_text()
    assert _generator_policy(stopped) == "mixed_bfloat16"
    for name in ("generator", "discriminator", "ema_generator"):
        resumed = keras.saving.load_model(stopped / "models" / f"{name}_10.keras", safe_mode=True)
        whole = keras.saving.load_model(straight / "models" / f"{name}_10.keras", safe_mode=True)
        assert all(weight.dtype == "float32" for weight in resumed.weights)
        for left, right in zip(resumed.get_weights(), whole.get_weights(), strict=True):
            np.testing.assert_array_equal(left, right)
    raw, average = (keras.saving.load_model(straight / "models" / f"{name}_10.keras", safe_mode=True)
                    for name in ("generator", "ema_generator"))
    assert not np.array_equal(raw.get_weights()[0], average.get_weights()[0])
    redrawn = make_grid(to_uint8(average(np.load(straight / "fixed_noise.npy"), training=False)))
    saved = np.asarray(Image.open(straight / "images" / "10fixed_image.png"))
    assert np.abs(redrawn[..., 0].astype(int) - saved).max() <= 1, "fixed grids come from the average"
    result = run_script("generate.py", str(stopped), "-n", "4", "-o", str(tmp_path / "made.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "made.png").stat().st_size > 0
