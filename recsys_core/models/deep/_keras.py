"""TensorFlow/Keras plumbing shared by the deep models; TensorFlow is imported lazily here."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys_core.progress import Progress, report

#: Keras compiles the training step with XLA from this many training rows per epoch; below
#: it the compile time (about a second) costs more than it saves.
JIT_MIN_ROWS = 200_000

State = dict[str, np.ndarray]
#: Logit given to impossible candidates (a copy of the row's own positive among its
#: negatives, a modality an item lacks).
MASKED = -1e9


def load_keras() -> Any:
    """Import Keras (TensorFlow backend) on first use, quietly.

    TensorFlow takes seconds to import and logs to stderr at import; deferring it keeps the
    pages, the CLI and the other models fast, and the log level keeps the analyst's
    terminal clean.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def prepare_backend(random_state: int, num_threads: int) -> None:
    """Seed every generator Keras uses, make ops deterministic and cap TensorFlow's threads.

    Op determinism costs little on CPU and makes a refit with the same seed give the same
    weights (embedding gradients are otherwise summed in a thread-dependent order). The
    thread pools can only be sized before TensorFlow's runtime starts, so ``num_threads``
    takes effect for the first deep fit of a process and is ignored afterwards.
    """
    keras = load_keras()
    import tensorflow as tf

    if num_threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(num_threads)
            tf.config.threading.set_inter_op_parallelism_threads(num_threads)
        except RuntimeError:
            pass  # the runtime already started: the first fit's setting stays (documented)
    keras.utils.set_random_seed(random_state)
    tf.config.experimental.enable_op_determinism()


def layer_seed(random_state: int, ordinal: int) -> int:
    """A distinct, reproducible seed per layer, so no layer depends on global RNG state."""
    return (random_state * 1_000_003 + ordinal * 7919) % (2**31 - 1)


def layer_arrays(net: Any, names: list[str]) -> State:
    """Weights of the named layers as float32 arrays, ``<layer>_<i>`` for the i-th weight.

    Keras lists a Dense layer's weights as [kernel, bias] and an Embedding's as [table], so
    the keys are stable for a given architecture and can be rebuilt from the config.
    """
    out: State = {}
    for name in names:
        for i, weight in enumerate(net.get_layer(name).get_weights()):
            out[f"{name}_{i}"] = np.array(weight, dtype=np.float32)
    return out


def set_layer_arrays(net: Any, state: State) -> None:
    """Load arrays exported by :func:`layer_arrays` back into a rebuilt network.

    Layers of nested models (the towers) are visited too; layers without exported arrays
    (frozen feature tables, merges) keep what they have. Used to continue training a loaded
    model or to check the numpy scorer against Keras.
    """
    for layer in net.layers:
        if hasattr(layer, "layers"):
            set_layer_arrays(layer, state)
        elif f"{layer.name}_0" in state:
            count = len(layer.get_weights())
            layer.set_weights([state[f"{layer.name}_{i}"] for i in range(count)])


def dense_stack(state: State, x: np.ndarray, names: list[str], last_linear: bool) -> np.ndarray:
    """Apply Dense layers (ReLU between them) exported by :func:`layer_arrays`, in numpy."""
    for pos, name in enumerate(names):
        x = x @ state[f"{name}_0"] + state[f"{name}_1"]
        if not (last_linear and pos == len(names) - 1):
            np.maximum(x, 0.0, out=x)
    return x


@dataclass
class EpochMonitor:
    """Per-epoch bookkeeping: progress, validation NDCG, early stopping and the best weights.

    Attributes:
        epochs: planned epochs (the progress total).
        patience: epochs without a better validation NDCG before training stops.
        progress: the analyst's progress callback; it may raise to cancel the fit.
        validate: validation NDCG of an exported state, or None without a validation split.
        label: metric label for messages, e.g. "NDCG@10".
    """

    epochs: int
    patience: int
    progress: Progress | None
    validate: Callable[[State], float] | None
    label: str
    best_state: State | None = None
    best_score: float = -np.inf
    best_epoch: int = -1
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False

    def start(self, state: Callable[[], State]) -> None:
        """Record the untrained network as epoch 0, a candidate like any trained epoch.

        A network that starts from a solved model (NeuMF's GMF branch from ALS factors)
        may only drift from it: when no epoch validates better, early stopping keeps the
        start (best epoch 0), as fine-tuning a pre-trained model should.
        """
        self.end_epoch(-1, np.nan, state)

    def end_epoch(self, epoch: int, loss: float, state: Callable[[], State]) -> None:
        """Record epoch ``epoch`` (0-based; -1 the start); sets :attr:`stopped` when patience
        runs out."""
        snapshot = state()
        row = {"epoch": float(epoch + 1), "loss": float(loss)}
        message = (
            "starting point" if epoch < 0 else f"epoch {epoch + 1}/{self.epochs}, loss {loss:.4f}"
        )
        if self.validate is None:
            self.best_state, self.best_epoch = snapshot, epoch
        else:
            score = self.validate(snapshot)
            row["validation"] = score
            message += f", validation {self.label} {score:.4f}"
            if score > self.best_score:
                self.best_state, self.best_score, self.best_epoch = snapshot, score, epoch
            elif epoch - self.best_epoch >= self.patience:
                self.stopped = True
                message += f" (stopped: best was {self._name(self.best_epoch)})"
        self.history.append(row)
        report(self.progress, epoch + 1, self.epochs, message)

    @staticmethod
    def _name(epoch: int) -> str:
        return "the starting point" if epoch < 0 else f"epoch {epoch + 1}"

    def history_array(self) -> np.ndarray:
        """[n_epochs, 3]: epoch, loss, validation NDCG (NaN without validation)."""
        rows = [(r["epoch"], r["loss"], r.get("validation", np.nan)) for r in self.history]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def epoch_callback(monitor: EpochMonitor, export: Callable[[], State]) -> Any:
    """A Keras callback handing each finished epoch to ``monitor``.

    An exception raised by the progress callback propagates out of ``fit`` (Keras does not
    swallow callback errors), which is how the analyst's Cancel button stops training.
    """
    keras = load_keras()

    def on_epoch_end(epoch: int, logs: dict[str, Any] | None = None) -> None:
        loss = float((logs or {}).get("loss", np.nan))
        monitor.end_epoch(epoch, loss, export)
        if monitor.stopped:
            callback.model.stop_training = True

    callback = keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)
    return callback


def run_epochs(
    net: Any,
    loss: Callable[[Any, Any], Any],
    monitor: EpochMonitor,
    epoch_data: Callable[[int], tuple[list[np.ndarray], np.ndarray]],
    export: Callable[[], State],
    batch_size: int,
    learning_rate: float,
    jit: bool,
) -> None:
    """Train epoch by epoch on freshly drawn data (new negatives, new order) with Adam.

    ``monitor.epochs`` may be 0: a refit that keeps a start (see :meth:`EpochMonitor.start`).

    A compiled step (XLA when ``jit``) over numpy batches costs a fraction of a millisecond
    per batch, where ``Model.fit`` spends about 150 ms per call setting up its data pipeline,
    which would dominate small fits. Epoch ends still go through a Keras callback (the
    documented way for custom loops), which reports progress and stops early.
    """
    keras = load_keras()
    compiled = None
    callbacks = keras.callbacks.CallbackList([epoch_callback(monitor, export)], model=net)
    for epoch in range(monitor.epochs):
        x, y = epoch_data(epoch)
        if compiled is None:
            compiled = _compiled_step(net, loss, learning_rate, [*x, y], jit)
        losses = []
        for start in range(0, len(y), batch_size):
            batch = slice(start, start + batch_size)
            losses.append(compiled(*[part[batch] for part in x], y[batch]))
        callbacks.on_epoch_end(epoch, {"loss": float(np.mean([v.numpy() for v in losses]))})
        if monitor.stopped:
            break


def _compiled_step(
    net: Any,
    loss: Callable[[Any, Any], Any],
    learning_rate: float,
    like: list[np.ndarray],
    jit: bool,
) -> Any:
    """One Adam step as a TensorFlow function of ``(*inputs, targets)``, traced once.

    The signature leaves the batch dimension open, so the smaller last batch reuses the
    trace, and the optimizer's slots exist before tracing (creating them inside would
    force a second trace).
    """
    keras = load_keras()
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(net.trainable_variables)

    def step(*args: Any) -> Any:
        with tf.GradientTape() as tape:
            value = loss(args[-1], net(list(args[:-1]), training=True))
            if net.losses:  # activity regularisers (the reg penalty) of this call
                value = value + tf.add_n(net.losses)
        grads = tape.gradient(value, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables, strict=True))
        return value

    spec = [tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in like]
    return tf.function(step, input_signature=spec, jit_compile=jit)


def frozen_table(keras: Any, name: str, array: np.ndarray) -> Any:
    """A non-trainable lookup table (an Embedding holding ``array``): index -> row."""
    layer = keras.layers.Embedding(array.shape[0], array.shape[1], trainable=False, name=name)
    layer.build((None,))
    layer.set_weights([array.astype(np.float32)])
    return layer


def in_batch_log_q(counts: np.ndarray, n_uniform: int = 0) -> np.ndarray:
    """Log chance of each item being a candidate when the batch's items are the negatives.

    In-batch candidates come by popularity (their share of the interactions); ``n_uniform``
    random catalogue items per example mix in a uniform share. Float32, floored at 1e-12.
    """
    counts = np.asarray(counts, dtype=np.float64)
    q = (counts / max(counts.sum(), 1.0) + n_uniform / len(counts)) / (1 + n_uniform)
    return np.log(np.maximum(q, 1e-12)).astype(np.float32)


def in_batch_loss(keras: Any) -> Any:
    """Softmax cross-entropy of [B, C] logits whose row r's positive is column r mod C.

    C = B for the towers (the whole batch); NeuMF's groups of C rows each hold their own
    positives in columns 0 .. C - 1.
    """
    ops = keras.ops

    def in_batch_softmax(_targets: Any, logits: Any) -> Any:
        labels = ops.arange(ops.shape(logits)[0]) % ops.shape(logits)[1]
        return ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )

    return in_batch_softmax
