"""The speech model: log-mel -> 2-D conv front end -> bidirectional RNN ->
characters + blank (Deep Speech 2 style), trained with CTC.

Output index 0 is the CTC blank; index i >= 1 is `text.ALPHABET[i - 1]`.

Example:
    >>> model = build_model(ModelConfig(units=32, num_layers=1))
    >>> model(np.zeros((1, 100, 80), "float32")).shape
    (1, 50, 29)
"""

import dataclasses

import keras

from apps.speech import features as features_lib
from apps.speech import text as text_lib
from core import hybrids

NUM_CLASSES = len(text_lib.ALPHABET) + 1


@dataclasses.dataclass
class ModelConfig:
    """Sizes of the network; `num_layers=0` is the conv-only baseline."""

    conv_filters: tuple[int, ...] = (32, 32)
    conv_kernel_size: tuple[int, ...] = (7, 11)
    time_strides: tuple[int, ...] = (2, 1)
    freq_strides: tuple[int, ...] = (2, 2)
    cell_type: str = "gru"
    units: int = 128
    num_layers: int = 3
    dropout: float = 0.1
    conv_only_extra_conv: int = 0


def build_model(config: ModelConfig) -> keras.Model:
    """(batch, frames, 80) log-mel -> (batch, ceil(frames / stride), 29) logits."""
    encoder = hybrids.spectrogram_encoder(
        features_lib.NUM_MELS,
        conv_filters=tuple(config.conv_filters),
        conv_kernel_size=tuple(config.conv_kernel_size),
        time_strides=tuple(config.time_strides),
        freq_strides=tuple(config.freq_strides),
        cell_type=config.cell_type,
        units=config.units,
        num_layers=config.num_layers,
        bidirectional=True,
        dropout=config.dropout,
    )
    inputs = keras.Input(shape=(None, features_lib.NUM_MELS), name="log_mel")
    x = encoder(inputs)
    # The conv-only baseline gets 1-D convs over time in place of the RNN, so
    # it sees some context (its receptive field is what the RNN's is not).
    for index in range(config.conv_only_extra_conv):
        x = keras.layers.Conv1D(
            2 * config.units,
            5,
            padding="same",
            activation="relu",
            name=f"context_conv_{index}",
        )(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="characters")(x)
    name = "speech_ctc" if config.num_layers else "speech_ctc_conv_only"
    return keras.Model(inputs, logits, name=name)


def output_frames(num_input_frames, config: ModelConfig):
    return hybrids.output_length(num_input_frames, tuple(config.time_strides))
