"""Export a trained generator for other runtimes: `python export.py outputs/anime-1 --format onnx -o anime-onnx/`.

RUN is a run folder (its newest generator save, the weight average where the run keeps
one), a folder of runs (the newest run) or a generator .keras file; --generator picks
another save. Formats: savedmodel (TensorFlow, TF Serving, the TF.js converter), onnx
(onnxruntime in any language), tflite (LiteRT on phones; --quantize float16 or int8),
or all three; and web, a static page that makes faces in the browser's WebAssembly with
onnxruntime-web (fetched with npm, or --onnxruntime-web DIR). Every export computes in
float32 with a free batch size, and is run by its own runtime and compared with the
Keras generator before the folder appears; DIR also
gets export.json (shapes, source, parity, sizes) and a README.md on how to call it.
The exporters are optional: pip install -r requirements-export.txt. See docs/export.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.export.formats import CHOICES
from gan.export.onnxruntime_web import PACKAGE, VERSION
from gan.export.writers import QUANTIZE_CHOICES
from gan.runs.folder import check_new_folder, find_run, generator_source, newest_generator, run_of_model


def _source(source: Path, generator: Path | None) -> tuple[Path, Path | None]:
    """(generator file, run folder) as generate.py would choose them, or --generator's file."""
    if generator is not None and not generator.is_file():
        raise UserError(f"no such generator file: {generator}")
    if source.is_file() or source.suffix == ".keras":
        model_file = generator or generator_source(source)
        return model_file, run_of_model(source)
    run = find_run(source)
    return generator or newest_generator(run), run


def _report(name: str, entry: dict) -> str:
    parity = entry["parity"]
    files = ", ".join(entry["files"])
    precision = f", {entry['quantize']}" if entry["quantize"] else ""
    measured = parity["criterion"].replace("_abs_diff", "")
    return (
        f"{name}{precision}: {files} ({entry['bytes'] / 1e6:.2f} MB); in {parity['runtime']}, difference from the "
        f"float32 Keras generator: largest {parity['max_abs_diff']:.1e}, mean {parity['mean_abs_diff']:.1e} "
        f"({measured} limit {parity['tolerance']:g}); loaded in {parity['load_seconds']:.2f} s"
    )


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder, folder of runs or generator .keras file")
    parser.add_argument("--format", required=True, choices=CHOICES, help="what to write: " + ", ".join(CHOICES))
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="a new (or empty) folder for the export")
    parser.add_argument("--generator", type=Path, metavar="FILE", help="export this .keras save instead of the run's newest")
    parser.add_argument("--quantize", choices=QUANTIZE_CHOICES, help="TFLite weights in float16, or weights and activations in int8 [float32]")
    parser.add_argument("--onnxruntime-web", type=Path, metavar="DIR",
                        help=f"--format web: take onnxruntime-web's files from DIR (the npm package's dist/) [npm pack {PACKAGE}@{VERSION}]")
    args = parser.parse_args()
    model_file, run = _source(args.run, args.generator)
    check_new_folder(args.out, "-o")  # before TensorFlow starts: a taken DIR should fail at once

    from gan.export.exporter import export_generator
    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    manifest = export_generator(model_file, args.out, args.format, args.quantize, run, args.onnxruntime_web)
    for name, entry in manifest["formats"].items():
        print(_report(name, entry))
    step = f"step {manifest['step']}, " if manifest["step"] is not None else ""
    print(f"{args.out}: {model_file} ({step}trained in {manifest['trained_precision']}, exported in float32); export.json, README.md")


if __name__ == "__main__":
    sys.exit(cli.run(main))
