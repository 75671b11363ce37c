"""FID, KID and precision/recall: the math without weights, the network against known answers.

The whole-pipeline check on 2,000 real faces (FID between two halves against the original
network's figure) takes about 4.5 minutes of a 2-core CPU, a third of the suite's budget,
so it is a benchmark: bench/fid_folders.py --reference. Here the network is held to the
reference features of 8 images, and the FID formula to closed forms."""

import io
import json
import re
import shutil
import tarfile
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import PROJECT_ROOT, TINY_RUN_FLAGS, run_script
from PIL import Image

from gan.errors import UserError
from gan.evaluation import evaluator, metrics
from gan.evaluation.evaluator import folder_features
from gan.evaluation.inception import resize_matrix

SHARED = PROJECT_ROOT.parent / "shared" / "data"
WEIGHTS = SHARED / "fid" / "fid_inception_2015_12_05.npz"
KNOWN = SHARED / "fid" / "known_answers.npz"
needs_weights = pytest.mark.skipif(
    not (WEIGHTS.is_file() and KNOWN.is_file()), reason=f"the FID Inception weights and known answers are not at {SHARED / 'fid'}"
)


def test_fid_of_two_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    var1, var2 = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    closed = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(closed, rel=1e-9)
    # and estimated from samples
    a = rng.normal(mu1, np.sqrt(var1), (200_000, 4))
    b = rng.normal(mu2, np.sqrt(var2), (200_000, 4))
    assert metrics.fid(a, b) == pytest.approx(closed, rel=0.02)


def test_fid_is_zero_for_one_set_and_grows_with_shift_and_collapse():
    x = np.random.default_rng(1).normal(size=(3000, 16))
    assert abs(metrics.fid(x, x)) < 1e-6
    shifted = [metrics.fid(x, x + shift) for shift in (0.1, 0.5, 1.0)]
    assert shifted == sorted(shifted) and shifted[0] > 0
    collapsed = [metrics.fid(x, x * scale) for scale in (0.9, 0.5, 0.1)]  # variance shrinking: mode collapse
    assert collapsed == sorted(collapsed) and collapsed[0] > 0


def _direct_unbiased_mmd(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 5)), rng.normal(0.5, 1.0, (30, 5))
    mean, std = metrics.kid(x, y, subsets=3, subset_size=30)  # one subset is the whole set
    assert mean == pytest.approx(_direct_unbiased_mmd(x, y), rel=1e-9) and std == pytest.approx(0, abs=1e-12)
    assert metrics.kid(x, x[::-1].copy(), subsets=5, subset_size=20)[0] < mean


def test_precision_and_recall_separate_fidelity_from_diversity():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(500, 8))
    assert metrics.precision_recall(real, real.copy()) == (1.0, 1.0)
    collapsed = real[:5] + rng.normal(0, 0.01, (5, 8))  # a few real-looking modes
    precision, recall = metrics.precision_recall(real, np.repeat(collapsed, 20, axis=0))
    assert precision == 1.0 and recall < 0.2
    precision, _ = metrics.precision_recall(real, rng.normal(6.0, 1.0, (500, 8)))
    assert precision < 0.05


def test_too_few_samples_are_refused_clearly():
    one = np.zeros((1, 8))
    with pytest.raises(ValueError, match="FID needs at least 2 samples per set; received 1"):
        metrics.fid(one, np.zeros((5, 8)))
    with pytest.raises(ValueError, match="KID needs at least 2 samples"):
        metrics.kid(one, np.zeros((5, 8)))
    with pytest.raises(ValueError, match="precision and recall needs at least 4 samples"):
        metrics.precision_recall(np.zeros((3, 8)), np.zeros((9, 8)))


def test_legacy_resize_samples_without_a_half_pixel_offset():
    rows = resize_matrix(96)
    assert rows.shape == (299, 96) and np.allclose(rows.sum(axis=1), 1.0)
    # output pixel 1 samples the input at 96/299 = 0.321: between inputs 0 and 1
    assert rows[1, 0] == pytest.approx(1 - 96 / 299) and rows[1, 1] == pytest.approx(96 / 299)
    assert rows[-1, -1] == pytest.approx(1.0), "the last row clamps at the edge"
    assert np.array_equal(resize_matrix(299), np.eye(299, dtype=np.float32))


@pytest.fixture(scope="module")
def fid_network():
    from gan.evaluation.inception import FIDFeatures, load_weights

    return FIDFeatures(load_weights(WEIGHTS))


@needs_weights
def test_network_matches_the_reference_features_at_299_and_96(fid_network):
    known = np.load(KNOWN)
    np.testing.assert_allclose(fid_network(known["images_299"]), known["features_299"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fid_network(known["images_96"]), known["features_96"], rtol=1e-4, atol=1e-4)


# folders at their own size

def _write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:02d}.png")
    return folder


class _Spy:
    """A feature function that records the batches it gets; its features are each image's
    channel means, so every row can be traced back to its image."""

    def __init__(self):
        self.batches = []

    def __call__(self, images):
        self.batches.append(images)
        return images.astype(np.float64).mean(axis=(1, 2))

    @property
    def shapes(self):
        return [batch.shape for batch in self.batches]


@needs_weights
def test_a_folder_at_native_size_reproduces_the_reference_features(fid_network, tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    known = np.load(KNOWN)
    folder = _write_pngs(tmp_path / "faces", known["images_96"])
    features = folder_features(folder, None, fid_network, "reference")
    assert np.allclose(features, known["features_96"], rtol=1e-4, atol=1e-4)


def test_a_folder_at_native_size_reaches_the_network_unresized(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    images = np.random.default_rng(4).integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    folder = _write_pngs(tmp_path / "faces", images)
    native, sized = _Spy(), _Spy()
    folder_features(folder, None, native, "spy")
    assert native.shapes == [(5, 96, 96, 3)] and np.array_equal(native.batches[0], images), "the pixels as stored"
    folder_features(folder, 64, sized, "spy")
    assert sized.shapes == [(5, 64, 64, 3)], "a size given still resizes, and is not served the native entry"
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 2


def test_a_grey_run_is_judged_against_grey_real_images(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    colour = np.zeros((3, 16, 16, 3), np.uint8)
    colour[..., 0] = 255  # pure red: grey 76 (ITU-R 601-2 luma), not (255, 0, 0)
    folder = _write_pngs(tmp_path / "red", colour)
    grey, rgb = _Spy(), _Spy()
    folder_features(folder, 16, grey, "spy", channels=1)
    folder_features(folder, 16, rgb, "spy")
    assert grey.shapes == rgb.shapes == [(3, 16, 16, 3)]
    assert np.all(grey.batches[0] == 76) and np.all(rgb.batches[0] == colour)
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 2


def test_a_folder_of_mixed_sizes_keeps_each_size_and_the_file_order(tmp_path, monkeypatch):
    """Grouped by size within each chunk of files (chunks of 3 here), one batch per size."""
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluator, "FOLDER_CHUNK", 3)
    rng = np.random.default_rng(5)
    shapes = [(96, 96, 3), (40, 70, 3), (96, 96, 3), (96, 96, 3), (40, 70, 3), (33, 33)]  # the last one grey
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in shapes]
    folder = _write_pngs(tmp_path / "mixed", images)
    (folder / "99.png").write_bytes(b"not a picture")
    spy = _Spy()
    features = folder_features(folder, None, spy, "spy")
    assert spy.shapes == [(2, 96, 96, 3), (1, 40, 70, 3), (1, 96, 96, 3), (1, 40, 70, 3), (1, 33, 33, 3)]
    grey_as_rgb = np.repeat(images[-1][..., None], 3, axis=-1)
    expected = [image.astype(np.float64).mean(axis=(0, 1)) for image in [*images[:-1], grey_as_rgb]]
    np.testing.assert_array_equal(features, np.stack(expected))


def test_a_folder_with_nothing_readable_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_bytes(b"not a picture")
    with pytest.raises(UserError, match="none of the 1 image files"):
        folder_features(tmp_path / "bad", None, _Spy(), "spy")


# evaluate.py

CHANNEL_DIVISOR = 16  # every channel count of the network is a multiple of it


@pytest.fixture(scope="session")
def small_weights(tmp_path_factory):
    """The FID network's layout at 1/16 of its channels (128 features): the same graph,
    pools and resize at about 1/256 of the work, for tests of the plumbing around it.
    Slicing works because every concatenation's width shrinks by the same factor. Each
    sliced weight is scaled up by the square root of the inputs it lost, as a sum of
    fewer terms of random sign shrinks so; unscaled, every layer's batch-norm statistics
    swamp what is left of the input and all images get the same features."""
    small = {}
    with np.load(WEIGHTS) as archive:
        for key in archive.files:
            array = archive[key]
            outputs = array.shape[0] // CHANNEL_DIVISOR
            if key.endswith(".weight"):
                inputs = array.shape[1] if array.shape[1] == 3 else array.shape[1] // CHANNEL_DIVISOR
                small[key] = array[:outputs, :inputs] * np.sqrt(array.shape[1] / inputs)
            else:
                small[key] = array[:outputs]
    path = tmp_path_factory.mktemp("fid") / "small_fid_inception.npz"
    np.savez(path, **small)
    return path


def test_evaluate_without_weights_says_how_to_get_them(tiny_run, data_folder, tmp_path):
    run, _ = tiny_run
    result = run_script("evaluate.py", str(run), "--real", str(data_folder), "--inception-weights", str(tmp_path / "none.npz"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: no FID Inception weights at ") and result.stderr.count("\n") == 1


def test_evaluate_refuses_a_bare_array_as_weights_in_one_line(data_folder, tmp_path):
    bare = tmp_path / "features.npy"
    np.save(bare, np.zeros((3, 3), np.float32))
    result = run_script("evaluate.py", "--fake", str(data_folder), "--real", str(data_folder), "--inception-weights", str(bare))
    assert result.returncode == 2 and result.stderr == (
        f"error: {bare} is not a readable .npz of Inception weights: it holds one array, not named ones\n"), result.stderr


def test_evaluate_refuses_a_weights_file_of_another_network_in_one_line(data_folder, tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, **{"dense.kernel": np.zeros((3, 3), np.float32)})
    result = run_script("evaluate.py", "--fake", str(data_folder), "--real", str(data_folder), "--inception-weights", str(other))
    assert result.returncode == 2 and result.stderr == (
        f"error: {other} does not hold the FID Inception weights that get_inception.py writes "
        "(no array 'net.layers.conv.weight')\n"), result.stderr


@pytest.mark.parametrize("flags, message", [
    (["--seed", "-1"], "--seed must be zero or positive; received -1"),
    (["--image-size", "0"], "--image-size must be a positive integer; received 0"),
    (["-n", "3"], "-n must be at least 4; received 3"),
])
def test_evaluate_refuses_a_bad_seed_or_size_before_tensorflow_starts(tiny_run, data_folder, flags, message):
    run, _ = tiny_run
    result = run_script("evaluate.py", str(run), "--real", str(data_folder), *flags)
    assert result.returncode == 2 and result.stderr == f"error: {message}\n"


@needs_weights
def test_evaluate_a_run_appends_metrics_and_caches_real_features(tiny_run, data_folder, tmp_path, monkeypatch, small_weights):
    run = Path(shutil.copytree(tiny_run[0], tmp_path / "run"))  # it appends to the run: a copy, not the shared one
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    flags = ["--real", str(data_folder), "-n", "24", "--inception-weights", str(small_weights)]
    first = run_script("evaluate.py", str(run), *flags)
    assert first.returncode == 0, first.stderr
    assert re.match(r"step 25: FID \d+\.\d\d  KID -?\d+\.\d\d ± \d+\.\d\d \(x1e-3\)  precision [01]?\.\d+  recall", first.stdout)
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 1
    second = run_script("evaluate.py", str(run), *flags)
    assert second.stdout == first.stdout, "the same seed and cached real features give the same numbers"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 25 and records[-1]["n_fake"] == 24 and records[-1]["n_real"] == 16
    assert set(records[-1]) >= {"fid", "kid", "kid_std", "precision", "recall", "generator", "real", "time"}


@needs_weights
def test_evaluate_nearest_writes_the_picture_and_the_copy_score(tiny_run, data_folder, tmp_path, monkeypatch, small_weights):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    run, _ = tiny_run
    picture = tmp_path / "nearest.png"
    result = run_script("evaluate.py", str(run), "--nearest", str(data_folder), "-n", "24", "--show", "3",
                        "-o", str(picture), "--inception-weights", str(small_weights))
    assert result.returncode == 0, result.stderr
    with Image.open(picture) as image:
        assert image.size == (4 * 64 + 3 * 2, 3 * 64 + 2 * 2)  # 3 fakes, each beside its 3 nearest, 16 px at 4x
    assert re.search(r"24 fakes, 16 training images: copy score \d+\.\d\d .*training images to their nearest other",
                     result.stdout), result.stdout
    assert not (run / "metrics.jsonl").exists(), "the check is not a metric of the run"


@needs_weights
def test_evaluate_two_folders(data_folder, tmp_path, monkeypatch, small_weights):
    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    result = run_script("evaluate.py", "--real", str(data_folder), "--fake", str(data_folder),
                        "--inception-weights", str(small_weights))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FID -0.00") or result.stdout.startswith("FID 0.00")
    assert "precision 1.000  recall 1.000" in result.stdout
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 1, "the same folder's features, cached once"


@needs_weights
def test_training_evaluates_on_schedule_and_keeps_the_best_generator(data_folder, tmp_path, monkeypatch, small_weights):
    import tensorflow as tf

    monkeypatch.setenv("DCGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    result = run_script(
        "train.py", "--data", str(data_folder), "--out", str(out), *TINY_RUN_FLAGS, "--seed", "2",
        "--eval-every", "10", "--eval-real", str(data_folder), "--eval-count", "12", "--inception-weights", str(small_weights),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 25]
    best = min(records, key=lambda r: r["fid"])
    state = json.loads((out / "models" / "state_25.json").read_text())
    assert state["best_fid"] == best["fid"]
    best_generator = keras.saving.load_model(out / "models" / "best_generator.keras", safe_mode=True)
    saved = keras.saving.load_model(out / "models" / f"generator_{best['step']}.keras", safe_mode=True)
    for a, b in zip(best_generator.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(a, b)
    tags = set()
    for path in (out / "tensorboard").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            tags |= {value.tag for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value}
    assert {"metrics/fid", "metrics/kid", "metrics/precision", "metrics/recall"} <= tags


def _graph_name(npz_layer: str) -> str:
    """The TF graph's name of an .npz layer: the inverse of the converter's renaming."""
    block, _, rest = npz_layer.partition(".")
    joined = re.fullmatch(r"(tower(?:_\d)?)_(?:(mixed)_)?(conv(?:_\d)?)", rest)
    if block in ("mixed_9", "mixed_10") and joined:
        return "/".join([block, *(part for part in joined.groups() if part)])
    return npz_layer.replace(".", "/")


@needs_weights
def test_get_inception_converts_the_tensorflow_graph_to_the_reference_weights(tmp_path):
    """A GraphDef laid out as inception-2015-12-05 is (conv2d_params HWIO, batchnorm
    constants, extra nodes), built from the reference weights, converts back to them."""
    import io
    import tarfile

    import tensorflow as tf

    from gan.evaluation.inception_download import fetch_weights

    reference = np.load(SHARED / "fid" / "fid_inception_2015_12_05.npz")
    graph = tf.compat.v1.GraphDef()

    def constant(name, value):
        node = graph.node.add(name=name, op="Const")
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))

    layers = [key[len("net.layers."):-len(".weight")] for key in reference.files if key.endswith(".weight")]
    for layer in layers:
        name = _graph_name(layer)
        constant(f"{name}/conv2d_params", np.transpose(reference[f"net.layers.{layer}.weight"], (2, 3, 1, 0)))
        for ours, theirs in (("beta", "beta"), ("mean", "moving_mean"), ("var", "moving_variance")):
            constant(f"{name}/batchnorm/{theirs}", reference[f"net.layers.{layer}.{ours}"])
        constant(f"{name}/batchnorm/gamma", np.ones_like(reference[f"net.layers.{layer}.beta"]))
    constant("softmax/biases", np.zeros(1008, np.float32))
    archive = tmp_path / "inception-2015-12-05.tgz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        payload = graph.SerializeToString()
        member = tarfile.TarInfo("classify_image_graph_def.pb")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))

    converted = np.load(fetch_weights(tmp_path / "cache" / "weights.npz", str(archive)))
    assert sorted(converted.files) == sorted(reference.files)
    for key in reference.files:
        np.testing.assert_array_equal(converted[key], reference[key], err_msg=key)


def _archive_of(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_get_inception_offline_and_bad_archives_are_one_line_errors(tmp_path):
    not_an_archive = tmp_path / "inception.tgz"
    not_an_archive.write_text("not gzip")
    no_graph = _archive_of(tmp_path / "no-graph.tgz", {"README": b"no graph here"})
    junk_graph = _archive_of(tmp_path / "junk-graph.tgz", {"classify_image_graph_def.pb": b"not a graph at all"})
    damaged = tmp_path / "damaged.tgz"  # a sound first member header, then a deflate block of a reserved type
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    header = tarfile.TarInfo("classify_image_graph_def.pb")
    header.size = 100_000
    damaged.write_bytes(bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]) + deflate.compress(header.tobuf() + bytes(range(256)) * 128)
                        + deflate.flush(zlib.Z_FULL_FLUSH) + b"\x07" + bytes(64))
    for source, message in (
        ("http://127.0.0.1:9/inception-2015-12-05.tgz", "error: could not download http://127.0.0.1:9/"),
        (str(not_an_archive), "is not a readable .tgz of the Inception graph"),
        (str(damaged), f"error: {damaged} is not a readable .tgz of the Inception graph: Error -3 while decompressing data"),
        (str(no_graph), f"error: {no_graph}: it holds no classify_image_graph_def.pb"),
        (str(junk_graph), f"error: {junk_graph}: its classify_image_graph_def.pb is not a TensorFlow graph"),
    ):
        result = run_script("get_inception.py", "--source", source, "--out", str(tmp_path / "w.npz"))
        assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "w.npz").exists()
