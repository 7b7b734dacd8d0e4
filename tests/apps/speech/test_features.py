import numpy as np
import pytest

from apps.speech import features


def test_log_mel_shape_and_normalisation():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(16000).astype(np.float32) * 0.1
    mel = features.log_mel(audio)
    assert mel.shape == (features.num_frames(16000), 80) == (101, 80)
    assert np.allclose(mel.mean(axis=0), 0, atol=1e-4)
    assert mel.std() == pytest.approx(1.0, rel=1e-3)
    # gain does not change normalised features
    assert np.allclose(features.log_mel(audio * 4), mel, atol=0.05)


def test_log_mel_handles_short_and_silent_audio():
    assert features.log_mel(np.zeros(10, np.float32)).shape == (4, 80)
    silent = features.log_mel(np.zeros(16000, np.float32))
    assert np.isfinite(silent).all()
    with pytest.raises(ValueError, match="mono"):
        features.log_mel(np.zeros((100, 2), np.float32))


@pytest.mark.parametrize("snr", [20.0, 10.0, 0.0])
def test_add_noise_hits_the_requested_snr(snr):
    rng = np.random.default_rng(1)
    clean = np.sin(np.linspace(0, 2000, 32000)).astype(np.float32)
    noisy = features.add_noise(clean, snr, rng)
    measured = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy - clean) ** 2))
    assert measured == pytest.approx(snr, abs=0.01)
    assert np.array_equal(features.add_noise(np.zeros(5, np.float32), snr, rng),
                          np.zeros(5))


def test_speed_perturbation_changes_length():
    audio = np.zeros(16000, np.float32)
    assert features.change_speed(audio, 1.1).size == pytest.approx(16000 / 1.1,
                                                                    abs=2)


def test_spec_augment_masks_bands_and_frames():
    config = features.AugmentConfig(freq_masks=1, freq_mask_width=10, time_masks=1,
                                    time_mask_width=8)
    feats = np.ones((200, 80), np.float32)
    masked = features.spec_augment(feats, config, np.random.default_rng(3))
    assert feats.min() == 1.0  # input untouched
    zero_columns = np.all(masked == 0, axis=0).sum()
    zero_rows = np.all(masked == 0, axis=1).sum()
    assert 0 < (masked == 0).sum() and zero_columns <= 10 and zero_rows <= 8


def test_augment_audio_is_seeded():
    audio = np.sin(np.linspace(0, 500, 16000)).astype(np.float32)
    config = features.AugmentConfig(noise_probability=1.0, reverb_probability=1.0,
                                    speed_probability=1.0)
    first = features.augment_audio(audio, config, np.random.default_rng(7))
    second = features.augment_audio(audio, config, np.random.default_rng(7))
    assert np.array_equal(first, second) and not np.allclose(first[:14000],
                                                             audio[:14000])


def test_frequency_warp_moves_formants_and_keeps_identity():
    feats = np.zeros((3, 80), np.float32)
    feats[:, 40] = 1.0  # one band lit
    assert np.allclose(features.warp_frequency(feats, 1.0), feats)
    up = features.warp_frequency(feats, 1.15)
    down = features.warp_frequency(feats, 0.87)
    assert up.shape == feats.shape and down.dtype == np.float32
    assert np.argmax(up[0]) > 40 > np.argmax(down[0])
    # the peak moves by the mel distance of a 15 % shift in Hz (a few bands)
    assert 2 <= np.argmax(up[0]) - 40 <= 8


def test_spec_augment_warps_with_the_configured_probability():
    config = features.AugmentConfig(freq_masks=0, time_masks=0, warp_probability=1.0)
    feats = np.random.default_rng(0).standard_normal((50, 80)).astype(np.float32)
    warped = features.spec_augment(feats, config, np.random.default_rng(1))
    assert not np.allclose(warped, feats)
    config = features.AugmentConfig(freq_masks=0, time_masks=0, warp_probability=0.0)
    assert np.array_equal(features.spec_augment(feats, config,
                                                np.random.default_rng(1)), feats)
