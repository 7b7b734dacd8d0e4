"""Choosing a recurrent layer: the Keras built-in where the math is standard.

Why two implementations? The built-in `keras.layers.LSTM` and `GRU` dispatch to
cuDNN's fused kernels on a GPU (several times faster than a step-by-step loop),
but they only compute the standard equations. The `core.cells` versions compute
the same numbers step by step with `keras.ops`, and add what the built-ins lack
(LSTM peepholes) and what a reader may want to step through (teaching mode).
On the CPU both run the same loop at the same speed (`benchmarks/cells.py`).

So `recurrent_layer(..., implementation="auto")` returns the built-in layer when
it can compute what was asked, and `keras.layers.RNN(core cell)` otherwise.
"""

import keras

from core.cells import get_cell_class

BUILTIN_LAYERS = {
    "elman": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}
IMPLEMENTATIONS = ("auto", "core", "keras")
# Cell arguments the built-in layers cannot honour.
CORE_ONLY_ARGUMENTS = {"use_peepholes", "peephole_initializer"}


def recurrent_layer(
    cell_type,
    units,
    *,
    return_sequences=False,
    return_state=False,
    go_backwards=False,
    implementation="auto",
    name=None,
    **cell_kwargs,
):
    """Builds a recurrent layer over (batch, time, features) inputs.

    Args:
        cell_type: "elman", "lstm" or "gru".
        units: hidden size.
        return_sequences: return every step's output, not only the last.
        return_state: also return the final states.
        go_backwards: run the sequence in reverse (for bidirectional wrappers).
        implementation: "auto" (built-in when it can), "keras" (built-in,
            error if a core-only argument is given) or "core" (always the
            `core.cells` cell inside `keras.layers.RNN`).
        name: layer name.
        **cell_kwargs: passed to the cell (e.g. `use_peepholes=True`,
            `reset_after=False`, `recurrent_initializer=...`).

    Example:

    >>> layer = recurrent_layer("lstm", 32, use_peepholes=True)  # core cell
    >>> layer = recurrent_layer("gru", 32, return_sequences=True)  # keras.layers.GRU
    """
    cell_class = get_cell_class(cell_type)
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS}; got {implementation!r}"
        )
    needs_core = any(cell_kwargs.get(key) for key in CORE_ONLY_ARGUMENTS)
    if implementation == "keras" and needs_core:
        raise ValueError(
            "implementation='keras' cannot build a cell with "
            f"{sorted(k for k in CORE_ONLY_ARGUMENTS if cell_kwargs.get(k))}; "
            "use implementation='core' or 'auto'."
        )
    layer_kwargs = dict(
        return_sequences=return_sequences,
        return_state=return_state,
        go_backwards=go_backwards,
        name=name,
    )
    if implementation == "core" or needs_core:
        return keras.layers.RNN(cell_class(units, **cell_kwargs), **layer_kwargs)
    builtin_kwargs = {
        key: value
        for key, value in cell_kwargs.items()
        if key not in CORE_ONLY_ARGUMENTS
    }
    return BUILTIN_LAYERS[cell_type](units, **builtin_kwargs, **layer_kwargs)
