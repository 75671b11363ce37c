"""FID of two folders as `evaluate.py --real A --fake B` computes it, next to a reference
figure from another implementation, and their relative difference.

    python bench/fid_folders.py --real faces_a/ --fake faces_b/ --reference 31.7617 \\
        --inception-weights fid_inception_2015_12_05.npz

Each folder's images go to the network at their own size (through its standard resize
to 299), unless --image-size resizes them first. Features are computed afresh (the
feature cache points at a temporary folder for this process), so the time printed is
the whole cost of both folders.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import start_backend  # noqa: E402
from gan.settings.config import FID_WEIGHTS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="the first folder of images")
    parser.add_argument("--fake", type=Path, required=True, help="the second folder of images")
    parser.add_argument("--reference", type=float, required=True, help="the FID another implementation gives")
    parser.add_argument("--image-size", type=int, help="resize both folders to this size first [each image's own]")
    parser.add_argument("--inception-weights", default=FID_WEIGHTS)
    args = parser.parse_args()

    machine = start_backend()
    from gan.evaluation.evaluator import Evaluator

    cache = tempfile.mkdtemp(prefix="fid-folders-")
    os.environ["DCGAN_STUDIO_CACHE"] = cache
    try:
        started = time.perf_counter()
        result = Evaluator(args.inception_weights, args.real, args.image_size).score_folder(args.fake)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    difference = (result["fid"] - args.reference) / args.reference
    size = f"resized to {args.image_size}x{args.image_size}" if args.image_size else "each image at its own size"
    print(f"FID {result['fid']:.4f}  reference {args.reference:.4f}  relative difference {difference:+.3%}")
    print(f"{result['n_real']} vs {result['n_fake']} images ({args.real} vs {args.fake}), {size}, {seconds:.0f} s")
    print(machine)


if __name__ == "__main__":
    main()
