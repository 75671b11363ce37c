"""The type the step's code annotates its values with.

The step is written once in keras.ops and runs on two backends, so a value is a
tf.Tensor in TensorFlow's graph and a jax.Array under JAX (numpy arrays go in too);
no type names them both, and an alias says at least which arguments are tensors.
"""

from typing import Any

Tensor = Any
