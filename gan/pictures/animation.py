"""An animated GIF of a run's grids, in step order: how training went, at a glance."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from gan.pictures.grids import burn_label
from gan.runs.atomic import atomic_write


def write_gif(frames: list[tuple[int, Path]], path: Path, fps: float = 4.0, label: bool = False) -> None:
    """Write the (step, PNG path) frames, in the order given, as a looping GIF."""
    pictures = []
    for step, frame in frames:
        with Image.open(frame) as image:
            picture = image.convert("L" if image.mode == "L" else "RGB")
        pictures.append(burn_label(picture, f"step {step}") if label else picture)
    with atomic_write(path) as partial:
        pictures[0].save(
            partial, format="GIF", save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0
        )
