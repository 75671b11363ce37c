"""Diagrams of a run's generator, discriminator and combined GAN model (keras plot_model).

    python plot_models.py outputs/anime-1        # -> outputs/anime-1/diagrams/*.png

Needs pydot and Graphviz's `dot` program (apt-get install graphviz).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.folder import find_run
from gan.settings.config import TrainConfig


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder (its config.json gives the sizes), or a folder of runs")
    parser.add_argument("-o", "--output", type=Path, help="folder for the PNGs [<run>/diagrams]")
    args = parser.parse_args()
    run = find_run(args.run)
    if not (run / "config.json").is_file():
        raise UserError(f"{run} has no config.json to rebuild its models from")
    config = TrainConfig.load(run / "config.json")

    from gan.pictures.diagrams import check_graphviz, plot_models

    check_graphviz()
    from gan.runtime import set_up_tensorflow
    from gan.training.builders import build_networks

    set_up_tensorflow()
    for path in plot_models(*build_networks(config), args.output or run / "diagrams"):
        print(path)


if __name__ == "__main__":
    sys.exit(cli.run(main))
