"""Images/s the data pipeline delivers: streamed from the files, decoding a folder into
memory, and from that in-memory cache. Needs TensorFlow (tf.data).

    python bench/data_throughput.py                                # 2,048 random 96x96 PNGs
    python bench/data_throughput.py --data anime/ --batches 200

Streaming (`--data-cache none`) is measured first, so that the process's resident memory
after it shows what streaming holds before any decoded array exists. It reads the files
before the decoding pass does, so decoding times files the operating system serves from
its page cache: the figure is the decode cost alone, not the disk's.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data_source import add_data_flags, image_folder  # noqa: E402
from bench.machine import start_backend  # noqa: E402
from gan import cli  # noqa: E402
from gan.errors import UserError  # noqa: E402

GENERATED_IMAGES = 2048


def resident_mib() -> float:
    """This process's resident memory now (Linux), in MiB; NaN where unknown."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return float("nan")


def images_per_second(dataset, batch_size: int, batches: int, warmup: int) -> float:
    """Batches/s x batch size over `batches` batches, after `warmup` untimed ones."""
    stream = iter(dataset)
    for _ in range(warmup):
        next(stream)
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return batches * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    add_data_flags(parser, GENERATED_IMAGES)
    parser.add_argument("--batches", type=int, default=100, help="timed batches per pipeline [100]")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches per pipeline first [5]")
    args = parser.parse_args()
    if min(args.batch_size, args.batches) <= 0 or args.warmup < 0:
        parser.error("--batch-size and --batches must be positive, --warmup zero or positive")
    machine = start_backend()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"the data pipeline is tf.data: run with the TensorFlow backend (KERAS_BACKEND is {keras.backend.backend()!r})")
    from gan.data.folders import load_image_folder, open_image_folder
    from gan.data.pipeline import training_batches

    size, channels, batch = args.image_size, args.channels, args.batch_size
    with tempfile.TemporaryDirectory() as scratch:
        folder = image_folder(args, Path(scratch))
        print(machine)
        print(f"data: {folder}, to {size}x{size}x{channels}, batch {batch}; "
              f"{args.warmup} warm-up + {args.batches} timed batches per pipeline")
        print(f"{'pipeline':<48} {'images/s':>9}  resident memory after")
        before = resident_mib()
        stream = open_image_folder(folder, size, channels)
        rate = images_per_second(stream.batches(batch, seed=0), batch, args.batches, args.warmup)
        after = resident_mib()
        print(f"{'(c) streamed from the files (--data-cache none)':<48} {rate:9.0f}  "
              f"{after:.0f} MiB ({after - before:+.0f} MiB; {len(stream.paths)} files)")
        start = time.perf_counter()
        image_set = load_image_folder(folder, size, channels)
        rate = len(image_set.images) / (time.perf_counter() - start)
        print(f"{'(a) decoding the folder into memory':<48} {rate:9.0f}  "
              f"{resident_mib():.0f} MiB (the array: {image_set.images.nbytes / 2**20:.0f} MiB)")
        rate = images_per_second(training_batches(image_set.images, batch, seed=0), batch, args.batches, args.warmup)
        print(f"{'(b) from the in-memory cache (default)':<48} {rate:9.0f}  {resident_mib():.0f} MiB")


if __name__ == "__main__":
    sys.exit(cli.run(main))
