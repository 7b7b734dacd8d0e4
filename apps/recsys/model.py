"""GRU4Rec: item embedding -> stacked GRU (core) -> scores against item embeddings.

Hidasi et al. 2016 (ICLR, arXiv 1511.06939) and Hidasi & Karatzoglou 2018
(CIKM, "Recurrent Neural Networks with Top-k Gains"). The network is one step
of a session: it takes the current item and the hidden states and returns
the new states and the final hidden output; `score_items` / `score_all`
turn that output into scores r = g(h W_y[i]^T + b_y[i]).

Input embedding options (`embedding`):
    "constrained": the output item matrix W_y is also the input embedding
        (the 2018 code's `constrained_embedding`; embedding size = last layer);
    "separate": its own table of `embedding_dim` columns;
    "onehot": one-hot input, implemented as a lookup of width `hidden_units[0]`
        (a one-hot vector times the GRU input kernel is a row lookup; the extra
        linear map is absorbed by the kernel).
"""

from __future__ import annotations

import keras
from keras import ops

from core.cells import GRUCell

PACKAGE = "rnn_demos"
EMBEDDINGS = ("constrained", "separate", "onehot")


def gather_rows(variable, ids):
    """Rows `ids` of a 2-D (or 1-D) variable.

    On TensorFlow this reads only those rows (`ResourceGather`). Reading the
    whole variable and then gathering, while the optimiser updates rows
    sparsely, makes TensorFlow copy the entire matrix on every read
    (copy-on-read mode): O(n_items) per step instead of O(rows).
    """
    value = getattr(variable, "value", None)
    if hasattr(value, "sparse_read"):
        return value.sparse_read(ids)
    return ops.take(variable, ids, axis=0)


def parse_final_activation(name):
    """`linear`, `tanh`, `relu`, `elu-<alpha>` (the 2018 code's names)."""
    if name == "linear":
        return lambda x: x
    if name == "tanh":
        return ops.tanh
    if name == "relu":
        return ops.relu
    if name.startswith("elu-"):
        try:
            alpha = float(name[4:])
        except ValueError:
            alpha = None
        if alpha is not None:
            return lambda x: ops.elu(x, alpha=alpha)
    raise ValueError(
        f"final_activation must be linear, tanh, relu or elu-<alpha>, got {name!r}"
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class GRU4Rec(keras.Model):
    """Session-based next-item recommender.

    Args:
        n_items: catalogue size (item indices 0..n_items-1).
        hidden_units: sizes of the stacked GRU layers, e.g. [100].
        embedding: "constrained", "separate" or "onehot" (see module doc).
        embedding_dim: width of the "separate" embedding.
        dropout_input: dropout on the embedded input item.
        dropout_hidden: dropout on each GRU layer's output.
        final_activation: g in r = g(h W_y^T + b_y): "linear" for cross-entropy,
            "elu-0.5" / "elu-1" for BPR-max, "tanh" for TOP1.

    Example:
        >>> model = GRU4Rec(n_items=10, hidden_units=[8])
        >>> scores = model(np.array([[1, 2, 3]]))   # (1, 10) after item 3
    """

    def __init__(
        self,
        n_items,
        hidden_units=(100,),
        embedding="constrained",
        embedding_dim=0,
        dropout_input=0.0,
        dropout_hidden=0.0,
        final_activation="linear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(n_items) < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        hidden_units = [int(u) for u in hidden_units]
        if not hidden_units or min(hidden_units) < 1:
            raise ValueError(f"hidden_units must be positive sizes, got {hidden_units}")
        if embedding not in EMBEDDINGS:
            raise ValueError(
                f"embedding must be one of {EMBEDDINGS}, got {embedding!r}"
            )
        if embedding == "separate" and int(embedding_dim) < 1:
            raise ValueError("embedding='separate' needs embedding_dim >= 1")
        for name, rate in (
            ("dropout_input", dropout_input),
            ("dropout_hidden", dropout_hidden),
        ):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        self.n_items = int(n_items)
        self.hidden_units = hidden_units
        self.embedding = embedding
        self.embedding_dim = int(embedding_dim)
        self.dropout_input = float(dropout_input)
        self.dropout_hidden = float(dropout_hidden)
        self.final_activation = final_activation
        self._final = parse_final_activation(final_activation)
        self.cells = [
            GRUCell(units, name=f"gru_{layer}")
            for layer, units in enumerate(hidden_units)
        ]
        self.input_dropout_layer = keras.layers.Dropout(self.dropout_input)
        self.hidden_dropout_layers = [
            keras.layers.Dropout(self.dropout_hidden) for _ in hidden_units
        ]
        self.build(None)

    def build(self, input_shape=None):
        if getattr(self, "_weights_made", False):
            return
        last = self.hidden_units[-1]
        # Initial range as in the official code: uniform +-sqrt(6 / (fan_in + fan_out)).
        scale = (6.0 / (self.n_items + last)) ** 0.5
        self.output_embedding = self.add_weight(
            shape=(self.n_items, last),
            initializer=keras.initializers.RandomUniform(-scale, scale),
            name="output_embedding",
        )
        self.output_bias = self.add_weight(
            shape=(self.n_items,), initializer="zeros", name="output_bias"
        )
        if self.embedding == "constrained":
            input_dim = last
        else:
            input_dim = (
                self.embedding_dim
                if self.embedding == "separate"
                else self.hidden_units[0]
            )
            scale = (6.0 / (self.n_items + input_dim)) ** 0.5
            self.input_embedding = self.add_weight(
                shape=(self.n_items, input_dim),
                initializer=keras.initializers.RandomUniform(-scale, scale),
                name="input_embedding",
            )
        for cell in self.cells:
            cell.build((None, input_dim))
            input_dim = cell.units
        self._weights_made = True
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "hidden_units": list(self.hidden_units),
            "embedding": self.embedding,
            "embedding_dim": self.embedding_dim,
            "dropout_input": self.dropout_input,
            "dropout_hidden": self.dropout_hidden,
            "final_activation": self.final_activation,
        }

    def initial_states(self, batch_size):
        return [ops.zeros((batch_size, units)) for units in self.hidden_units]

    def embed(self, items):
        table = (
            self.output_embedding
            if self.embedding == "constrained"
            else self.input_embedding
        )
        return gather_rows(table, items)

    def step(self, items, states, training=False):
        """One time step: items (B,) int -> (output (B, units), new states)."""
        x = self.input_dropout_layer(self.embed(items), training=training)
        new_states = []
        for cell, dropout, state in zip(
            self.cells, self.hidden_dropout_layers, states, strict=True
        ):
            h, _ = cell(x, [state], training=training)
            new_states.append(h)
            x = dropout(h, training=training)
        return x, new_states

    def score_items(self, output, item_ids):
        """Scores (B, len(item_ids)) of some items (training: targets + samples)."""
        weights = gather_rows(self.output_embedding, item_ids)
        bias = gather_rows(self.output_bias, item_ids)
        return self._final(ops.matmul(output, ops.transpose(weights)) + bias)

    def score_all(self, output):
        """Scores (B, n_items) over the whole catalogue."""
        return self._final(
            ops.matmul(output, ops.transpose(self.output_embedding)) + self.output_bias
        )

    def call(self, items, training=False):
        """Scores after the last item of each sequence: items (B, T) -> (B, n_items)."""
        items = ops.convert_to_tensor(items)
        states = self.initial_states(ops.shape(items)[0])
        output = None
        for t in range(items.shape[1]):
            output, states = self.step(items[:, t], states, training=training)
        return self.score_all(output)
