"""A local web page that makes faces with a trained generator: `python serve.py outputs/anime-1`.

SOURCE is a generator .keras file, a run folder (its newest generator save, the weight
average where the run keeps one) or a folder of runs (the newest run). The page shows a
grid of faces by seed and an interpolation strip between two seeds; its JSON/PNG API is
described in gan/web.py. The page has no authentication: keep the default loopback host
unless every machine that can reach the port may use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gan import cli
from gan.errors import UserError
from gan.runs.folder import generator_source, model_step


def main() -> None:
    parser = cli.OneLineErrorParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="generator .keras file, run folder or folder of runs")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1: this machine only]")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on; 0 picks a free one [5000]")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be from 0 to 65535; received {args.port}")
    model_file = generator_source(args.source)

    from gan.pictures.latent import load_generator
    from gan.runtime import set_up_tensorflow
    from gan.web.app import create_app, exposure_warning, listen

    set_up_tensorflow()
    app = create_app(load_generator(model_file), model_file.name, model_step(model_file))
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
