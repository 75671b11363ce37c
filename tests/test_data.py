import io
import os

import numpy as np
import pytest
from conftest import tiny_config, write_images
from PIL import Image

from gan.data.decode import decode_image, find_image_files
from gan.data.folders import load_image_folder, open_image_folder, open_training_data
from gan.data.pipeline import streaming_batches, training_batches
from gan.errors import UserError
from gan.training.loop import train


def test_finds_images_at_any_depth_and_ignores_other_files(tmp_path):
    paths = write_images(tmp_path, 4)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "UPPER.JPG").write_bytes(b"")
    assert find_image_files(tmp_path) == sorted([*paths, tmp_path / "UPPER.JPG"])


def test_symlink_loops_are_walked_once(tmp_path):
    write_images(tmp_path, 2)
    os.symlink(tmp_path, tmp_path / "part0" / "loop")
    assert len(find_image_files(tmp_path)) == 2


def _save(image: Image.Image, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize("name, kwargs", [("a.png", {}), ("a.jpg", {"quality": 95}), ("a.bmp", {}), ("a.webp", {"lossless": True})])
def test_common_formats_decode_to_the_model_shape(tmp_path, name, kwargs):
    pixels = np.zeros((40, 30, 3), np.uint8)
    pixels[..., 0] = 200
    path = _save(Image.fromarray(pixels), tmp_path / name, **kwargs)
    rgb = decode_image(path, 16, 3)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb[8, 8, 0]) - 200) <= 3 and rgb[8, 8, 1] <= 3
    assert decode_image(path, 16, 1).shape == (16, 16, 1)


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), 30), Image.new("L", (8, 8), 220)]
    path = _save(frames[0], tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert np.all(np.abs(decode_image(path, 16, 1).astype(int) - 30) <= 1)


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[:8, :, :] = (0, 0, 0, 255)  # top: opaque black; bottom: fully transparent
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png")
    image = decode_image(path, 16, 3)
    assert image[2, 8].tolist() == [0, 0, 0] and image[13, 8].tolist() == [255, 255, 255]

    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    path = _save(palette, tmp_path / "p.png", transparency=1)
    assert decode_image(path, 16, 3)[8, 8].tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    path = _save(Image.fromarray(np.full((16, 16), 32896, np.uint16)), tmp_path / "a.png")
    assert Image.open(path).mode.startswith("I")
    assert np.all(decode_image(path, 16, 1) == 128)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "a.jpg")
    red = decode_image(path, 16, 3)[8, 8]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


def test_unusable_files_are_skipped_and_counted_once(tmp_path):
    write_images(tmp_path, 5, size=24)
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(good, "JPEG")
    (tmp_path / "truncated.jpg").write_bytes(good.getvalue()[:200])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, I am not a PNG")
    image_set = load_image_folder(tmp_path, 16, 3)
    assert image_set.images.shape == (5, 16, 16, 3)
    assert sum(image_set.skipped.values()) == 3
    assert image_set.skipped_summary().startswith("3 of 8 image files skipped (")


def test_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        load_image_folder(tmp_path / "missing", 16, 3)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(UserError, match="is a file"):
        load_image_folder(tmp_path / "file.png", 16, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no image files"):
        load_image_folder(tmp_path / "empty", 16, 3)
    with pytest.raises(UserError, match="none of the 1 image files"):
        load_image_folder(tmp_path, 16, 3)


def test_batches_are_scaled_seeded_and_cover_every_image_each_epoch():
    images = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1) * 20  # image i has pixel 20 * i

    def first_batches(seed, count):
        stream = iter(training_batches(images, batch_size=4, seed=seed))
        return [next(stream).numpy() for _ in range(count)]

    batches = first_batches(seed=7, count=6)
    assert batches[0].shape == (4, 1, 1, 1) and batches[0].dtype == np.float32
    ids = [np.rint((b.ravel() + 1) * 127.5 / 20).astype(int) for b in batches]
    assert sorted(np.concatenate(ids[:3])) == list(range(12))
    assert sorted(np.concatenate(ids[3:])) == list(range(12))
    assert not np.array_equal(np.concatenate(ids[:3]), np.concatenate(ids[3:])), "reshuffled each epoch"
    assert all(np.array_equal(a, b) for a, b in zip(batches, first_batches(seed=7, count=6)))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, first_batches(seed=8, count=6)))
    assert min(b.min() for b in batches) == -1.0 and max(b.max() for b in batches) <= 1.0


def test_mirror_trains_every_image_once_each_way_per_epoch_and_resumes_by_index():
    left, right = np.arange(6) * 20, np.arange(6) * 20 + 10  # image i is the pixel pair (20i, 20i + 10)
    images = np.stack([left, right], axis=1).astype(np.uint8).reshape(6, 1, 2, 1)

    def first_batches(mirror, skip=0, count=6):
        stream = iter(training_batches(images, batch_size=4, seed=3, skip_batches=skip, mirror=mirror))
        return [np.rint((next(stream).numpy() + 1) * 127.5).astype(int).reshape(4, 2) for _ in range(count)]

    epoch = np.concatenate(first_batches(mirror=True)[:3])  # 12 = 6 images, each both ways
    pairs = sorted(map(tuple, epoch))
    assert pairs == sorted([(a, b) for a, b in zip(left, right)] + [(b, a) for a, b in zip(left, right)])
    assert all(a < b for a, b in np.concatenate(first_batches(mirror=False)[:3])), "no flips without --mirror"
    batches = first_batches(mirror=True)
    assert all(np.array_equal(a, b) for a, b in zip(batches[2:], first_batches(mirror=True, skip=2)))


def test_streamed_mirror_holds_every_image_and_its_flip(tmp_path):
    paths = write_images(tmp_path, 4)
    in_memory = load_image_folder(tmp_path, 16, 3).images
    batches = [b.numpy() for b in streaming_batches(paths, 16, 3, 4, seed=1, mirror=True).take(2)]
    pixels = np.rint((np.concatenate(batches) + 1.0) * 127.5).astype(np.uint8)
    assert sorted(image.tobytes() for image in pixels) == sorted(
        image.tobytes() for image in np.concatenate([in_memory, in_memory[:, :, ::-1]])
    )


def _as_uint8_set(images):
    return {image.tobytes() for image in images}


def test_streamed_batches_hold_the_in_memory_images_and_skip_a_corrupt_file_once(tmp_path, capsys):
    write_images(tmp_path, 8)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    in_memory = load_image_folder(tmp_path, 16, 3).images
    stream = open_training_data(tmp_path, 16, 3, cache="none")
    assert len(stream.paths) == 9 and "streamed" in stream.description()
    batches = [batch.numpy() for batch in stream.batches(batch_size=4, seed=3).take(6)]  # three epochs
    assert all(b.shape == (4, 16, 16, 3) and b.dtype == np.float32 for b in batches)
    assert min(b.min() for b in batches) >= -1.0 and max(b.max() for b in batches) <= 1.0
    pixels = [np.rint((b + 1.0) * 127.5).astype(np.uint8) for b in batches]
    assert _as_uint8_set(np.concatenate(pixels[:2])) == _as_uint8_set(in_memory)
    assert capsys.readouterr().err.count("corrupt.png skipped (") == 1


def test_streamed_batches_are_seeded_and_resume_where_they_left_off(tmp_path):
    paths = write_images(tmp_path, 6)

    def first_batches(seed, skip=0):
        return [b.numpy() for b in streaming_batches(paths, 16, 1, 2, seed, skip_batches=skip).take(4)]

    batches = first_batches(seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(batches, first_batches(seed=5)))
    assert all(np.array_equal(a, b) for a, b in zip(batches[2:], first_batches(seed=5, skip=2)))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, first_batches(seed=6)))


def test_a_stream_of_files_none_of_which_decode_is_refused(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(UserError, match="none of the 1 image files"):
        open_image_folder(tmp_path, 16, 3)


def test_a_run_trains_on_streamed_files(data_folder, tmp_path, capsys):
    # In-process: a train.py subprocess would double this test's time for no extra check.
    config = tiny_config(data_folder, tmp_path / "run", steps=3, save_every=3, seed=1, data_cache="none")
    out = train(config, show_progress=False)
    assert "16 image files, streamed" in capsys.readouterr().out
    assert len((out / "training_log.txt").read_text().splitlines()) == 3
    assert (out / "models" / "state_3.json").is_file()


def test_mirror_reaches_the_training_stream(data_folder, tmp_path, monkeypatch):
    import gan.data.folders

    seen = []

    def recording(*args, **kwargs):
        seen.append(args[4] if len(args) > 4 else kwargs.get("mirror"))
        return training_batches(*args, **kwargs)

    monkeypatch.setattr(gan.data.folders, "training_batches", recording)
    config = tiny_config(data_folder, tmp_path / "run", steps=1, save_every=1, seed=1, mirror=True)
    train(config, show_progress=False)
    assert seen == [True]
