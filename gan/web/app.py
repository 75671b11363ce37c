"""The local web page that makes faces (serve.py): a small Flask app and its JSON/PNG API.

    GET /                                   the page (gan/web/page/)
    GET /api/faces?n=16&seed=3[&format=png] n faces of a seed: JSON list of base64 PNGs, or one grid PNG
    GET /api/interpolate?a=1&b=2&steps=8[&format=png]  a strip from seed a to seed b

Query values are checked strictly, since they come from anyone who can reach the port:
integers are plain decimal digits (no sign, point, exponent or spaces) within their range,
every parameter but `format` is required, each may be given once, and an unknown
parameter is refused rather than ignored (so a typo such as `seeds=3` is not silently
served with another seed). Any failure is a 400 with {"error": "..."}. No route takes a
file path: the page's three files are fixed routes read once at start.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.serving import (
    BaseWSGIServer,
    get_sockaddr,
    make_server,
    select_address_family,
)

from gan.errors import UserError
from gan.export.web_site import PAGE as EXPORTED_PAGE
from gan.pictures.grids import grid_columns, make_grid, png_bytes
from gan.web.face_maker import FaceMaker

if TYPE_CHECKING:
    import keras

    from gan.export.runners import OnnxRunner

PAGE_FOLDER = Path(__file__).resolve().parent / "page"
# Served as fixed routes; the look both face pages share is the exported page's studio.css.
PAGE_ASSETS = {
    "page.js": (PAGE_FOLDER / "page.js", "text/javascript"),
    "page.css": (PAGE_FOLDER / "page.css", "text/css"),
    "studio.css": (EXPORTED_PAGE / "studio.css", "text/css"),
}
MAX_FACES = 64
MIN_STEPS, MAX_STEPS = 2, 32
MAX_SEED = 2**32 - 1
FORMATS = ("json", "png")
DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit() would take "３" and "²"

# The page loads only its own script and style, and images from data: URLs.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class QueryError(ValueError):
    """A request's query cannot be served: answered with 400 and this message."""


def query_int(query: MultiDict, name: str, low: int, high: int) -> int:
    """The integer parameter `name`, required, given once, in [low, high]."""
    values = query.getlist(name)
    if not values:
        raise QueryError(f"{name} is required: an integer from {low} to {high}")
    if len(values) > 1:
        raise QueryError(f"{name} may be given only once")
    text = values[0]
    if not DIGITS.fullmatch(text) or not low <= int(text) <= high:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise QueryError(f"{name} must be an integer from {low} to {high}; received {shown!r}")
    return int(text)


def query_format(query: MultiDict) -> str:
    values = query.getlist("format")
    if len(values) > 1 or (values and values[0] not in FORMATS):
        raise QueryError(f"format must be one of {', '.join(FORMATS)}, given at most once")
    return values[0] if values else "json"


def check_names(query: MultiDict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; this endpoint takes {', '.join(allowed)}")


def create_app(generator: "keras.Model | OnnxRunner", name: str, step: int | None) -> Flask:
    """The page and its API for one loaded generator, a Keras model or an exported
    generator.onnx in gan.export.runners.OnnxRunner; `name` and `step` say on the page
    which generator it is. The generator is shared by all requests (see FaceMaker)."""
    maker = FaceMaker(generator)
    app = Flask(__name__, template_folder=PAGE_FOLDER, static_folder=None)
    for file, (path, mimetype) in PAGE_ASSETS.items():
        body = path.read_bytes()
        app.add_url_rule(f"/{file}", file, lambda body=body, mimetype=mimetype: Response(body, mimetype=mimetype))

    def answer(faces: np.ndarray, columns: int, output: str, **fields) -> Response:
        if output == "png":
            return Response(png_bytes(make_grid(faces, columns)), mimetype="image/png")
        images = [base64.b64encode(png_bytes(face)).decode("ascii") for face in faces]
        return jsonify(**fields, columns=columns, size=int(faces.shape[2]), images=images)

    @app.get("/")
    def page():
        return render_template(
            "index.html", name=name, step=step, face_size=maker.face_size, shown_size=maker.face_size * maker.scale,
            max_faces=MAX_FACES, max_seed=MAX_SEED, min_steps=MIN_STEPS, max_steps=MAX_STEPS,
        )

    @app.get("/api/faces")
    def faces():
        check_names(request.args, ("n", "seed", "format"))
        count = query_int(request.args, "n", 1, MAX_FACES)
        seed = query_int(request.args, "seed", 0, MAX_SEED)
        output = query_format(request.args)
        return answer(maker.faces(seed, count), grid_columns(count), output, seed=seed, n=count)

    @app.get("/api/interpolate")
    def interpolation():
        check_names(request.args, ("a", "b", "steps", "format"))
        start = query_int(request.args, "a", 0, MAX_SEED)
        end = query_int(request.args, "b", 0, MAX_SEED)
        steps = query_int(request.args, "steps", MIN_STEPS, MAX_STEPS)
        output = query_format(request.args)
        return answer(maker.interpolation(start, end, steps), steps, output, a=start, b=end, steps=steps)

    @app.errorhandler(QueryError)
    def bad_query(error: QueryError):
        return jsonify(error=str(error)), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return jsonify(error=f"{error.code} {error.name}"), error.code

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


def exposure_warning(host: str) -> str | None:
    """A warning where `host` lets other machines in: the page has no authentication."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to any interface
    return (
        f"warning: listening on {host}, not loopback: the page has no authentication, "
        "so anyone who can reach this machine's port can use it"
    )


def listen(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """A threaded WSGI server bound to host:port (port 0: a free one), not yet serving.

    The socket is bound here rather than by werkzeug, which answers a port in use with
    lines of its own and sys.exit instead of an exception."""
    family = select_address_family(host, port)
    try:
        sock = socket.create_server(get_sockaddr(host, port, family), family=family)
    except OSError as error:  # address in use, no such interface, a name that does not resolve
        reason = os.strerror(error.errno) if isinstance(error.errno, int) and error.errno > 0 else str(error)
        raise UserError(f"cannot listen on {host}:{port}: {reason}") from None
    except UnicodeError:  # the resolver's IDNA codec refuses an empty or over-long label, as in "a..b"
        raise UserError(f"cannot listen on {host}:{port}: not a valid host name") from None
    with sock:  # werkzeug serves a duplicate of the descriptor
        return make_server(host, port, app, threaded=True, fd=sock.fileno())
