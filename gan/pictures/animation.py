"""A run's grids, in step order, as a looping GIF or an MP4 video: how training went, at a glance.

Both are written through imageio: the GIF with its Pillow plugin, the MP4 with its FFMPEG
plugin, which runs the ffmpeg binary that the imageio-ffmpeg wheel ships (no system ffmpeg).
"""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

from gan.errors import UserError
from gan.pictures.grids import GRID_GAP_VALUE, burn_label
from gan.runs.atomic import atomic_write

FFMPEG_PACKAGE = "imageio-ffmpeg==0.8.1"
# H.264 codes 16x16 blocks; imageio silently resizes frames whose sides are not a multiple of
# this, so frames are padded to it instead, with the grey that already parts a grid's tiles.
MACRO_BLOCK = 16
# imageio's 0-10 scale (8 is x264's CRF 10): the default (5) smears the few pixels of small tiles.
VIDEO_QUALITY = 8


def write_gif(frames: list[tuple[int, Path]], path: Path, fps: float = 4.0, label: bool = False) -> None:
    """Write the (step, PNG path) frames, in the order given, as a looping GIF.

    Frame by frame rather than as one stacked array, so that grids of different sizes or
    colour modes (a folder gathered by hand) still make one GIF, as Pillow allows.
    """
    pictures = _pictures(frames, label)
    with atomic_write(path) as partial, iio.imopen(partial, "w", plugin="pillow", extension=".gif") as gif:
        for picture in pictures:
            gif.write(np.asarray(picture), is_batch=False, duration=round(1000 / fps), loop=0)


def write_mp4(frames: list[tuple[int, Path]], path: Path, fps: float = 4.0, label: bool = False) -> None:
    """Write the (step, PNG path) frames, in the order given, as an H.264 MP4 in yuv420p,
    the pixel format that ordinary players (browsers, phones) play."""
    require_ffmpeg()
    video = _video_frames(_pictures(frames, label))
    with atomic_write(path) as partial:
        iio.imwrite(
            partial,
            video,
            plugin="FFMPEG",
            extension=".mp4",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            quality=VIDEO_QUALITY,
            macro_block_size=MACRO_BLOCK,
            # ffmpeg, too, picks the container from the name, and the partial name has none;
            # faststart puts the index first, so a browser starts playing before the file is in.
            output_params=["-f", "mp4", "-movflags", "+faststart"],
        )


def require_ffmpeg() -> None:
    """Raise UserError naming the package to install when imageio has no ffmpeg to run:
    imageio-ffmpeg is needed only for videos, so a missing one should cost one line, not a traceback."""
    try:
        import imageio_ffmpeg
    except ImportError as error:
        raise UserError(f"an MP4 needs imageio-ffmpeg, which ships ffmpeg: pip install {FFMPEG_PACKAGE}") from error
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as error:  # an install without a binary for this platform
        raise UserError(f"imageio-ffmpeg found no ffmpeg ({error}); reinstall: pip install {FFMPEG_PACKAGE}") from error


def _pictures(frames: list[tuple[int, Path]], label: bool) -> list[Image.Image]:
    """Each frame's PNG as an L or RGB picture, with 'step N' burnt in if `label`."""
    pictures = []
    for step, frame in frames:
        with Image.open(frame) as image:
            picture = image.convert("L" if image.mode == "L" else "RGB")
        pictures.append(burn_label(picture, f"step {step}") if label else picture)
    return pictures


def _video_frames(pictures: list[Image.Image]) -> list[np.ndarray]:
    """The pictures centred on one grey canvas whose sides are multiples of MACRO_BLOCK.

    A video has one frame size and one channel count, and yuv420p needs even sides; all
    grids of one run share a size, but a folder gathered by hand may not, so the canvas
    fits the largest, in colour if any picture is.
    """
    mode = "RGB" if any(picture.mode == "RGB" for picture in pictures) else "L"
    width, height = (_round_up(max(sides), MACRO_BLOCK) for sides in zip(*(picture.size for picture in pictures)))
    video = []
    for picture in pictures:
        pixels = np.asarray(picture.convert(mode))
        canvas = np.full((height, width, *pixels.shape[2:]), GRID_GAP_VALUE, dtype=np.uint8)
        top, left = (height - picture.height) // 2, (width - picture.width) // 2
        canvas[top : top + picture.height, left : left + picture.width] = pixels
        video.append(canvas)
    return video


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
