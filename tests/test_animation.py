"""make_gif.py's GIF and MP4 writers: imageio does the writing, frames keep numeric step order,
odd grid sizes make a playable H.264 video, and a missing imageio-ffmpeg costs one line."""

import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import PROJECT_ROOT, run_script
from PIL import Image

from gan.errors import UserError
from gan.pictures import animation
from gan.runs.folder import list_grids

STEPS_AND_GREYS = {100: 60, 5: 200, 20: 130}  # string order would be 100, 20, 5
IN_STEP_ORDER = [200, 130, 60]


def _run_with_grids(folder, size=(40, 40), fixed=True):
    """A run folder whose grids are flat greys, one distinct level per step."""
    (folder / "images").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    suffix = "fixed_image.png" if fixed else "_image.png"
    for step, grey in STEPS_AND_GREYS.items():
        Image.new("L", size, grey).save(folder / "images" / f"{step}{suffix}")
    return folder


def test_the_gif_is_written_by_imageio_looping_in_step_order(tmp_path, monkeypatch):
    run = _run_with_grids(tmp_path / "run", fixed=False)
    opened = []

    def spy(uri, io_mode, **kwargs):
        opened.append((uri, io_mode, kwargs))
        return real_imopen(uri, io_mode, **kwargs)

    real_imopen = iio.imopen
    monkeypatch.setattr(animation.iio, "imopen", spy)
    animation.write_gif(list_grids(run / "images"), tmp_path / "out.gif", fps=5)
    monkeypatch.undo()
    assert opened == [(tmp_path / "out.gif.partial", "w", {"plugin": "pillow", "extension": ".gif"})]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif", "run"]
    frames = iio.imread(tmp_path / "out.gif", index=None)
    assert frames.shape[:3] == (3, 40, 40)
    assert [int(frame.mean()) for frame in frames] == IN_STEP_ORDER
    with Image.open(tmp_path / "out.gif") as gif:
        assert gif.info["loop"] == 0 and gif.info["duration"] == 200


def _video(path):
    return iio.imread(path, plugin="FFMPEG", index=None), iio.immeta(path, plugin="FFMPEG")


def test_mp4_of_the_fixed_grids_through_the_cli_odd_sizes_padded_in_grey(tmp_path):
    run = _run_with_grids(tmp_path / "run", size=(33, 21))  # width 33, height 21: neither even
    Image.new("L", (33, 21), 0).save(run / "images" / "7_image.png")  # a sample grid: not in the video
    result = run_script("make_gif.py", str(run), "--mp4", "--fps", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{run / 'fixed.mp4'}: 3 frames, steps 5 to 100"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "fixed.mp4", "images"]
    frames, meta = _video(run / "fixed.mp4")
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 5
    assert frames.shape == (3, 32, 48, 3)  # padded up to multiples of 16, not resized
    top, left = (32 - 21) // 2, (48 - 33) // 2
    grids = frames[:, top + 2 : top + 19, left + 2 : left + 31].mean(axis=(1, 2, 3))
    assert np.allclose(grids, IN_STEP_ORDER, atol=6), grids
    assert np.allclose(frames[:, :, :4].mean(axis=(1, 2, 3)), 128, atol=6)  # the grids' grey gap colour


def test_mp4_of_differently_sized_grids_fits_the_largest(tmp_path):
    grids = tmp_path / "grids"
    grids.mkdir()
    Image.new("L", (20, 20), 90).save(grids / "1fixed_image.png")
    Image.new("RGB", (36, 18), (200, 40, 40)).save(grids / "2fixed_image.png")
    animation.write_mp4(list_grids(grids, fixed=True), tmp_path / "out.mp4", label=True)
    frames, _ = _video(tmp_path / "out.mp4")
    assert frames.shape == (2, 32, 48, 3)


def test_mp4_without_imageio_ffmpeg_is_a_one_line_error(tmp_path, monkeypatch):
    run = _run_with_grids(tmp_path / "run")
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # `import imageio_ffmpeg` now fails
    with pytest.raises(UserError, match=r"pip install imageio-ffmpeg==0\.8\.1$"):
        animation.write_mp4(list_grids(run / "images", fixed=True), tmp_path / "out.mp4")
    monkeypatch.undo()
    launcher = (
        "import runpy, sys\nsys.modules['imageio_ffmpeg'] = None\n"
        f"sys.argv = ['make_gif.py', {str(run)!r}, '--mp4']\n"
        f"runpy.run_path({str(PROJECT_ROOT / 'make_gif.py')!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher],
        check=False,
        cwd=PROJECT_ROOT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: an MP4 needs imageio-ffmpeg, which ships ffmpeg: pip install imageio-ffmpeg==0.8.1"
    ]
    assert not any(run.glob("*.mp4*"))
