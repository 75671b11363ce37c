"""The two things about a training step that depend on the Keras backend: how gradients
are taken and how the step is compiled.

The step itself (gan.training.step) is written once, in keras.ops, against the networks'
`stateless_call` and the optimizers' `apply`. TensorFlow runs it as one `tf.function`
(optionally XLA-compiled) with gradients from a GradientTape. JAX, which has no
mutable variables, runs it under one `jax.jit` inside a StatelessScope: every variable
the step touches goes in as an array and comes out as its new value, which is written
back to the Keras variables after the call (a reference swap, not a copy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import ops

from gan.training import replicas
from gan.training.tensors import Tensor

BACKENDS = ("tensorflow", "jax")  # a tf.function (GradientTape) or a jax.jit (jax.vjp)


def backend_check() -> str:
    """The backend's name, or a RuntimeError saying which backends can train."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise RuntimeError(
            f"the training step runs on the TensorFlow or JAX backend; KERAS_BACKEND is {backend!r}"
        )
    return backend


def value_and_gradients(function: Callable, *groups: list) -> tuple[object, list]:
    """Gradients of `function(*groups) -> (losses, aux)`: of losses[i] with respect to groups[i].

    One forward pass serves every group, so networks updated "simultaneously" from one
    pass (each by its own loss) cost one forward, as they do in the original scripts.
    A tf.distribute replica differentiates its share of each loss (gan.training.replicas).
    Returns (aux, gradients per group).
    """
    if keras.backend.backend() == "jax":
        import jax

        losses, pullback, aux = jax.vjp(function, *groups, has_aux=True)
        gradients = []
        for index in range(len(groups)):
            cotangent = [ops.ones_like(loss) if i == index else ops.zeros_like(loss) for i, loss in enumerate(losses)]
            gradients.append(pullback(cotangent)[index])
        return aux, gradients
    import tensorflow as tf

    with tf.GradientTape(persistent=len(groups) > 1) as tape:
        tape.watch(groups)
        losses, aux = function(*groups)
        losses = [replicas.gradient_share(loss) for loss in losses]
    return aux, [tape.gradient(loss, group) for loss, group in zip(losses, groups)]


def input_gradients(function: Callable, inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """`function(inputs) -> (outputs, aux)` with the gradient of the outputs' sum with
    respect to `inputs`, itself differentiable by an enclosing `value_and_gradients`
    (a gradient penalty's second derivative). Returns (outputs, aux, gradient)."""
    if keras.backend.backend() == "jax":
        import jax

        outputs, pullback, aux = jax.vjp(function, inputs, has_aux=True)
        (gradient,) = pullback(ops.ones_like(outputs))
        return outputs, aux, gradient
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs, aux = function(inputs)
    return outputs, aux, tape.gradient(outputs, inputs)


def compile_step(
    step: Callable[[object], dict], variables: Sequence[keras.Variable], jit_compile: bool
) -> Callable[[object], dict]:
    """`step(batch) -> figures` as one compiled call.

    `variables` is everything the step may read or change; JAX needs the list, TensorFlow
    finds them by itself. `jit_compile` picks XLA on TensorFlow; JAX always compiles.
    """
    if backend_check() == "tensorflow":
        import tensorflow as tf

        return tf.function(step, jit_compile=jit_compile)
    return _jax_step(step, list(variables))


def _jax_step(step: Callable[[object], dict], variables: list[keras.Variable]) -> Callable[[object], dict]:
    import jax

    def pure_step(values, batch):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
            figures = step(batch)
        return [scope.get_current_value(variable) for variable in variables], figures

    # The old values are dead once the new ones exist: let XLA reuse their memory.
    compiled = jax.jit(pure_step, donate_argnums=0)

    def run(batch) -> dict:
        if not isinstance(batch, jax.Array):  # a tf.data batch, or numpy
            batch = np.asarray(batch)
        values, figures = compiled([variable.value for variable in variables], batch)
        for variable, value in zip(variables, values):
            variable.assign(value)
        return figures

    return run
