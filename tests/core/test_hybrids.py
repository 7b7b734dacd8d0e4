import keras
import numpy as np
import pytest

from core.hybrids import (
    FrameDifference,
    frame_sequence_encoder,
    output_length,
    spectrogram_encoder,
)


def test_output_length_is_ceil_of_each_stride():
    assert output_length(101, (2, 1)) == 51
    assert output_length(100, (2, 2)) == 25
    assert output_length(7, (3,)) == 3


@pytest.mark.parametrize("num_layers", [0, 2])
def test_spectrogram_encoder_shapes(num_layers):
    encoder = spectrogram_encoder(
        16, conv_filters=(4, 4), units=3, num_layers=num_layers, cell_type="lstm"
    )
    out = encoder(np.zeros((2, 13, 16), "float32"))
    channels = 2 * 3 if num_layers else 4 * 4  # 16 bins / 2 / 2 = 4 bins x 4 filters
    assert tuple(out.shape) == (2, output_length(13, (2, 1)), channels)


def test_spectrogram_encoder_saves_and_loads(tmp_path):
    encoder = spectrogram_encoder(
        8,
        conv_filters=(2,),
        time_strides=(2,),
        freq_strides=(2,),
        units=2,
        num_layers=1,
        use_peepholes=True,
        cell_type="lstm",
    )
    x = np.random.default_rng(0).standard_normal((1, 9, 8)).astype("float32")
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), encoder(x), atol=1e-6)


def test_spectrogram_encoder_learns():
    """A tiny encoder + read-out fits a per-utterance label: the loss falls."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 10, 8)).astype("float32")
    y = (x[:, :, :4].mean(axis=(1, 2)) > 0).astype("float32")
    encoder = spectrogram_encoder(
        8,
        conv_filters=(4,),
        time_strides=(2,),
        freq_strides=(2,),
        units=4,
        num_layers=1,
    )
    inputs = keras.Input((None, 8))
    pooled = keras.layers.GlobalAveragePooling1D()(encoder(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(pooled))
    model.compile(keras.optimizers.Adam(0.02), keras.losses.BinaryCrossentropy(True))
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.5 * history[0]


def test_spectrogram_encoder_bad_arguments():
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        spectrogram_encoder(0)
    with pytest.raises(ValueError, match="one entry per conv layer"):
        spectrogram_encoder(8, conv_filters=(4, 4), time_strides=(2,))
    with pytest.raises(ValueError, match="cell_type must be one of"):
        spectrogram_encoder(8, cell_type="mamba")
    encoder = spectrogram_encoder(
        8,
        conv_filters=(2,),
        time_strides=(2,),
        freq_strides=(2,),
        units=2,
        num_layers=1,
    )
    with pytest.raises(
        ValueError,
        match=r"spectrogram.*(expected shape=\(None, None, 8\)|must have shape)",
    ):
        encoder(np.zeros((1, 5, 80), "float32"))


def test_frame_difference_layer(layer_checker):
    frames = np.arange(2 * 3 * 1 * 1 * 1, dtype="float32").reshape(2, 3, 1, 1, 1) ** 2
    out = keras.ops.convert_to_numpy(FrameDifference()(frames))
    np.testing.assert_array_equal(out[0, :, 0, 0, 1], [0, 1, 3])  # 0, 1-0, 4-1
    layer_checker(FrameDifference(), frames)


def test_frame_sequence_encoder_shapes_and_round_trip(tmp_path):
    encoder = frame_sequence_encoder((8, 8, 1), conv_filters=(2, 3), units=4)
    clip = np.random.default_rng(0).random((2, 5, 8, 8, 1)).astype("float32")
    assert tuple(encoder(clip).shape) == (2, 5, 4)
    encoder.save(tmp_path / "video.keras")
    loaded = keras.models.load_model(tmp_path / "video.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(clip), encoder(clip), atol=1e-6)
    last = frame_sequence_encoder(
        (8, 8, 1),
        conv_filters=(2,),
        units=4,
        return_sequences=False,
        frame_difference=False,
    )
    assert tuple(last(clip).shape) == (2, 4)


def test_frame_sequence_encoder_bad_arguments():
    with pytest.raises(
        ValueError, match=r"frame_shape must be \(height, width, channels\)"
    ):
        frame_sequence_encoder((8, 8))
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
        frame_sequence_encoder((8, 8, 1), num_layers=0)
    encoder = frame_sequence_encoder((8, 8, 1), conv_filters=(2,), units=2)
    with pytest.raises(
        ValueError, match=r"frames .* must have shape \(\?, \?, 8, 8, 1\)"
    ):
        encoder(np.zeros((1, 3, 8, 8, 3), "float32"))
