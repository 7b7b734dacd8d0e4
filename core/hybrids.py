"""CNN-RNN hybrids: convolutions extract features, a recurrent stack models time.

Two builders, shared by the apps:
- `spectrogram_encoder`: (batch, time, features) spectrogram -> 2-D conv front
  end striding over time and frequency -> (bidirectional) recurrent stack, as in
  Deep Speech 2 (Amodei et al. 2016). Used by `apps/speech`.
- `frame_sequence_encoder`: (batch, time, height, width, channels) video ->
  the same small CNN on every frame (`TimeDistributed`), optionally with
  frame-difference channels for motion -> recurrent stack, as in Owens et al.
  (2016). Used by `apps/video_sound`.

Both take the cell type ("elman", "lstm", "gru") and sizes as arguments and
return a functional `keras.Model`.
"""

import math

import keras
from keras import layers, ops

from core.cells import PACKAGE
from core.recurrent import recurrent_layer


def _check_positive_ints(name, values, allow_empty=True):
    values = tuple(values)
    if (not values and not allow_empty) or not all(
        isinstance(v, int) and v > 0 for v in values
    ):
        raise ValueError(f"{name} must be a tuple of positive integers; got {values!r}")
    return values


def output_length(input_length, time_strides):
    """Frames left after 'same'-padded convolutions with these time strides."""
    length = input_length
    for stride in time_strides:
        length = -(-length // stride)  # ceil division, works on ints and tensors
    return length


def recurrent_stack(
    x,
    *,
    cell_type,
    units,
    num_layers,
    bidirectional=False,
    dropout=0.0,
    return_sequences=True,
    name="rnn",
    **cell_kwargs,
):
    """Applies `num_layers` recurrent layers (optionally bidirectional) to x."""
    for index in range(num_layers):
        last = index == num_layers - 1
        layer = recurrent_layer(
            cell_type,
            units,
            return_sequences=return_sequences or not last,
            name=f"{name}_{index}",
            **cell_kwargs,
        )
        if bidirectional:
            layer = layers.Bidirectional(layer, name=f"{name}_{index}_bidirectional")
        x = layer(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{name}_{index}_dropout")(x)
    return x


def spectrogram_encoder(
    num_features,
    *,
    conv_filters=(32, 32),
    conv_kernel_size=(11, 21),
    time_strides=(2, 1),
    freq_strides=(2, 2),
    cell_type="gru",
    units=128,
    num_layers=3,
    bidirectional=True,
    dropout=0.0,
    name="spectrogram_encoder",
    **cell_kwargs,
):
    """Conv front end + recurrent stack over a (batch, time, features) spectrogram.

    Args:
        num_features: frequency bins per frame (e.g. 80 mel bands).
        conv_filters: filters of each 2-D conv layer (time x frequency).
        conv_kernel_size: (time, frequency) kernel of every conv layer.
        time_strides: stride over time of each conv layer; their product is the
            total time reduction (keep it <= 3 for CTC on fast speech).
        freq_strides: stride over frequency of each conv layer.
        cell_type: "elman", "lstm" or "gru".
        units: hidden units per direction.
        num_layers: recurrent layers; 0 gives a conv-only model (for
            comparison: what does the RNN add?).
        bidirectional: wrap each recurrent layer in `Bidirectional`.
        dropout: dropout after each recurrent layer.

    Returns:
        A `keras.Model` from (batch, time, num_features) to
        (batch, output_length(time, time_strides), channels).

    Example:

    >>> encoder = spectrogram_encoder(80, units=64, num_layers=2)
    >>> encoder(np.zeros((2, 100, 80), "float32")).shape
    (2, 50, 128)
    """
    if not isinstance(num_features, int) or num_features <= 0:
        raise ValueError(
            f"num_features must be a positive integer; got {num_features!r}"
        )
    conv_filters = _check_positive_ints("conv_filters", conv_filters)
    time_strides = _check_positive_ints("time_strides", time_strides)
    freq_strides = _check_positive_ints("freq_strides", freq_strides)
    if not len(conv_filters) == len(time_strides) == len(freq_strides):
        raise ValueError(
            "conv_filters, time_strides and freq_strides need one entry per conv "
            f"layer; got lengths {len(conv_filters)}, {len(time_strides)}, "
            f"{len(freq_strides)}"
        )
    if not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(f"num_layers must be an integer >= 0; got {num_layers!r}")

    inputs = keras.Input(shape=(None, num_features), name="spectrogram")
    x = ExpectShape(
        (None, None, num_features),
        "spectrogram (batch, time, features)",
        name="check_spectrogram",
    )(inputs)
    x = layers.Reshape((-1, num_features, 1), name="add_channel")(x)
    freq = num_features
    for index, (filters, t_stride, f_stride) in enumerate(
        zip(conv_filters, time_strides, freq_strides, strict=True)
    ):
        x = layers.Conv2D(
            filters,
            conv_kernel_size,
            strides=(t_stride, f_stride),
            padding="same",
            use_bias=False,
            name=f"conv_{index}",
        )(x)
        x = layers.BatchNormalization(name=f"conv_{index}_norm")(x)
        x = layers.ReLU(name=f"conv_{index}_relu")(x)
        freq = math.ceil(freq / f_stride)
    channels = conv_filters[-1] if conv_filters else 1
    x = layers.Reshape((-1, freq * channels), name="merge_frequency")(x)
    x = recurrent_stack(
        x,
        cell_type=cell_type,
        units=units,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        name="rnn",
        **cell_kwargs,
    )
    return keras.Model(inputs, x, name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExpectShape(layers.Layer):
    """Passes its input through, refusing one whose rank or known sizes differ
    from `shape` (None = any size) with an error that names the input."""

    def __init__(self, shape, input_name="input", **kwargs):
        super().__init__(**kwargs)
        self.shape = tuple(shape)
        self.input_name = input_name

    def _check(self, shape):
        shape = tuple(shape)
        matches = len(shape) == len(self.shape) and all(
            want is None or got is None or want == got
            for want, got in zip(self.shape, shape, strict=True)
        )
        if not matches:
            expected = "(" + ", ".join("?" if s is None else str(s) for s in self.shape)
            raise ValueError(
                f"{self.input_name} must have shape {expected}); got {shape}"
            )

    def call(self, inputs):
        self._check(inputs.shape)
        return inputs

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "shape": list(self.shape),
            "input_name": self.input_name,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class FrameDifference(layers.Layer):
    """Appends x_t - x_(t-1) to each frame's channels (zero for the first frame).

    A cheap motion cue for a per-frame CNN, like the "spacetime image" of
    Owens et al. (2016), which stacks neighbouring grayscale frames.
    """

    def call(self, frames):
        previous = ops.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
        return ops.concatenate([frames, frames - previous], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1] * 2 if input_shape[-1] is not None else None
        return (*input_shape[:-1], channels)


def frame_sequence_encoder(
    frame_shape,
    *,
    conv_filters=(16, 32, 64),
    frame_difference=True,
    cell_type="lstm",
    units=128,
    num_layers=1,
    bidirectional=False,
    dropout=0.0,
    return_sequences=True,
    name="frame_sequence_encoder",
    **cell_kwargs,
):
    """Per-frame CNN (`TimeDistributed`) + recurrent stack over a video clip.

    Args:
        frame_shape: (height, width, channels) of one frame.
        conv_filters: filters of each conv block (3x3 conv, ReLU, 2x2 max-pool);
            the last block is globally average-pooled to one vector per frame.
        frame_difference: append the difference with the previous frame as
            extra channels (motion).
        cell_type, units, num_layers, bidirectional, dropout: the recurrent stack.
        return_sequences: one output per frame (True) or only the last.

    Returns:
        A `keras.Model` from (batch, time, *frame_shape) to (batch, time, units)
        (or (batch, units) without return_sequences).
    """
    frame_shape = _check_positive_ints("frame_shape", frame_shape, allow_empty=False)
    if len(frame_shape) != 3:
        raise ValueError(
            f"frame_shape must be (height, width, channels); got {frame_shape!r}"
        )
    conv_filters = _check_positive_ints("conv_filters", conv_filters, allow_empty=False)
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be an integer >= 1; got {num_layers!r}")

    inputs = keras.Input(shape=(None, *frame_shape), name="frames")
    x = ExpectShape(
        (None, None, *frame_shape),
        "frames (batch, time, height, width, channels)",
        name="check_frames",
    )(inputs)
    x = FrameDifference(name="frame_difference")(x) if frame_difference else x
    channels = frame_shape[-1] * (2 if frame_difference else 1)
    frame_input = keras.Input(shape=(*frame_shape[:2], channels))
    y = frame_input
    for index, filters in enumerate(conv_filters):
        y = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"conv_{index}"
        )(y)
        if index < len(conv_filters) - 1:
            y = layers.MaxPooling2D(2, padding="same", name=f"pool_{index}")(y)
    y = layers.GlobalAveragePooling2D(name="pool_frame")(y)
    frame_cnn = keras.Model(frame_input, y, name="frame_cnn")
    x = layers.TimeDistributed(frame_cnn, name="per_frame_cnn")(x)
    x = recurrent_stack(
        x,
        cell_type=cell_type,
        units=units,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=dropout,
        return_sequences=return_sequences,
        name="rnn",
        **cell_kwargs,
    )
    return keras.Model(inputs, x, name=name)
