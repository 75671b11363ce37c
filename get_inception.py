"""Download the FID Inception weights and convert them for evaluate.py and --eval-every.

    python get_inception.py                      # ~90 MB from download.tensorflow.org
    python get_inception.py --source inception-2015-12-05.tgz   # an archive you already have

Writes the .npz where the other scripts look by default (~/.cache/dcgan-studio/...), or
to --out. Needs TensorFlow (to read the graph) and, without --source, the internet.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.settings.config import FID_WEIGHTS


def main() -> None:
    from gan.evaluation.inception_download import GRAPH_URL, fetch_weights

    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=GRAPH_URL, help=f"URL or local .tgz of the graph [{GRAPH_URL}]")
    parser.add_argument("--out", type=Path, default=Path(FID_WEIGHTS), help=f"where to write the .npz [{FID_WEIGHTS}]")
    args = parser.parse_args()

    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    print(f"Converting {args.source} ...")
    print(f"Wrote {fetch_weights(args.out, args.source)}")


if __name__ == "__main__":
    sys.exit(cli.run(main))
