"""Architecture diagrams of the generator, the discriminator and the combined model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from gan.errors import UserError

if TYPE_CHECKING:
    import keras


def check_graphviz() -> None:
    """Raise UserError, saying how to install it, if plot_model cannot run."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        raise UserError("pydot is not installed: pip install pydot") from None
    if shutil.which("dot") is None:
        raise UserError(
            "Graphviz's `dot` program is not installed: apt-get install graphviz "
            "(Debian/Ubuntu), brew install graphviz (macOS) or see graphviz.org"
        )


def plot_models(generator: keras.Model, discriminator: keras.Model, folder: Path) -> list[Path]:
    """Draw the two networks and the combined model as generator.png, discriminator.png and gan.png."""
    check_graphviz()
    import keras

    noise = keras.Input(shape=generator.input_shape[1:], name="noise")
    gan = keras.Model(noise, discriminator(generator(noise)), name="gan")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for model in (generator, discriminator, gan):
        path = folder / f"{model.name}.png"
        keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True, show_layer_activations=True, dpi=72)
        written.append(path)
    return written
