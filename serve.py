"""A local web page that makes faces with a trained generator: `python serve.py outputs/anime-1`.

SOURCE is a generator .keras file, a run folder (its newest generator save, the weight
average where the run keeps one), a folder of runs (the newest run), or a generator.onnx
that export.py wrote (or the export folder holding one). An ONNX source is served with
onnxruntime alone, without importing TensorFlow: a small server starts faster and in a
fraction of the memory (docs/export.md). The page shows a grid of faces by seed and an
interpolation strip between two seeds; its JSON/PNG API is described in gan/web/app.py.
The page has no authentication: keep the default loopback host unless every machine
that can reach the port may use it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.export.manifest import EXPORT_JSON
from gan.export.writers import ONNX_FILE
from gan.runs.folder import generator_source, model_step


def onnx_source(source: Path) -> Path | None:
    """The generator.onnx that `source` names (the file, or an export folder's), else None."""
    if source.suffix == ".onnx":
        if not source.is_file():
            raise UserError(f"no such ONNX file: {source}")
        return source
    return source / ONNX_FILE if (source / ONNX_FILE).is_file() else None


def load_onnx(model_file: Path):
    """(OnnxRunner, step) for an exported file; the step comes from export.json beside it."""
    from gan.export.packages import require
    from gan.export.runners import OnnxRunner

    require(("onnxruntime",), f"serving {model_file.name}")
    try:
        runner = OnnxRunner(model_file)
    except Exception as error:  # onnxruntime raises its own types for a damaged file
        raise UserError(f"could not load an ONNX model from {model_file}: {str(error).splitlines()[0]}") from None
    manifest = model_file.parent / EXPORT_JSON
    if not manifest.is_file():
        return runner, None
    try:
        step = json.loads(manifest.read_text())["step"]
    except (ValueError, TypeError, KeyError):
        raise UserError(f"{manifest} is damaged (no training step in it): export again, "
                        "or delete it to serve without the step") from None
    return runner, step


def load_keras(model_file: Path):
    """(Keras generator, step), TensorFlow started quietly first."""
    from gan.pictures.latent import load_generator
    from gan.runtime import set_up_tensorflow

    set_up_tensorflow()
    return load_generator(model_file), model_step(model_file)


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="generator .keras or .onnx file, run folder, folder of runs, or export folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1: this machine only]")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on; 0 picks a free one [5000]")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be from 0 to 65535; received {args.port}")
    onnx_file = onnx_source(args.source)
    model_file = onnx_file or generator_source(args.source)

    from gan.web.app import create_app, exposure_warning, listen

    generator, step = load_onnx(model_file) if onnx_file else load_keras(model_file)
    app = create_app(generator, model_file.name, step)
    server = listen(app, args.host, args.port)
    if warning := exposure_warning(args.host):
        print(warning, file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Generator: {model_file}")
    print(f"Serving on http://{host}:{server.port}  (Ctrl-C stops)")
    server.serve_forever()  # werkzeug's: returns on Ctrl-C, with the socket closed
    print("stopped")


if __name__ == "__main__":
    sys.exit(cli.run(main))
