"""Log-mel features and training-time augmentation.

Features: 80 log-mel bands from 25 ms windows every 10 ms at 16 kHz,
normalised per utterance (each band to mean 0, and one shared scale), the same
function at training and inference time.

Augmentation (training only): a low noise floor (espeak-ng writes true digital
silence between words, which real microphones never do), additive noise at a
random SNR, a synthetic room reverberation, speed perturbation by resampling,
vocal tract length perturbation (a frequency warp of the log-mel bands, Jaitly
& Hinton 2013) and SpecAugment time and frequency masks (Park et al. 2019).
"""

import dataclasses
import functools

import numpy as np

SAMPLE_RATE = 16000
NUM_MELS = 80
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512


@functools.lru_cache(maxsize=1)
def _mel_basis():
    import librosa

    return librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=NUM_MELS, fmin=20.0, fmax=7600.0
    ).astype(np.float32)


def num_frames(num_samples: int) -> int:
    """Frames `log_mel` gives for this many samples (centred STFT)."""
    return 1 + num_samples // HOP


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(samples,) float audio at 16 kHz -> (frames, 80) normalised log-mel."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"log_mel expects mono audio (samples,), got {audio.shape}")
    if audio.size < N_FFT:
        audio = np.pad(audio, (0, N_FFT - audio.size))
    spectrum = librosa.stft(
        audio,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=WINDOW,
        window="hann",
        center=True,
    )
    power = np.abs(spectrum) ** 2
    mel = np.log(_mel_basis() @ power + 1e-6).T
    mel -= mel.mean(axis=0, keepdims=True)
    mel /= max(float(mel.std()), 1e-3)
    return mel.astype(np.float32)


@dataclasses.dataclass
class AugmentConfig:
    """Probabilities and ranges of the training augmentations."""

    noise_floor_db: tuple[float, ...] = (45.0, 70.0)
    noise_probability: float = 0.5
    snr_db: tuple[float, ...] = (5.0, 30.0)
    reverb_probability: float = 0.2
    speed_probability: float = 0.5
    speed_range: tuple[float, ...] = (0.9, 1.1)
    freq_masks: int = 2
    freq_mask_width: int = 10
    time_masks: int = 2
    time_mask_width: int = 8
    warp_probability: float = 0.5
    warp_range: tuple[float, ...] = (0.88, 1.12)


def add_noise(
    audio: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "white"
) -> np.ndarray:
    """Adds white or pink noise so that signal power / noise power = snr_db."""
    noise = rng.standard_normal(audio.size).astype(np.float32)
    if color == "pink":
        spectrum = np.fft.rfft(noise)
        spectrum /= np.sqrt(np.arange(1, spectrum.size + 1))
        noise = np.fft.irfft(spectrum, n=audio.size).astype(np.float32)
    signal_power = float(np.mean(audio**2))
    noise_power = float(np.mean(noise**2))
    if signal_power == 0.0 or noise_power == 0.0:
        return audio
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (audio + scale * noise).astype(np.float32)


def reverberate(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Convolves with an exponentially decaying noise burst (RT60 0.1-0.5 s)."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.1, 0.5)
    length = int(rt60 * SAMPLE_RATE)
    decay = np.exp(-6.9 * np.arange(length) / length)  # -60 dB at rt60
    response = rng.standard_normal(length) * decay
    response[0] = 1.0 / 0.3
    response *= 0.3
    wet = fftconvolve(audio, response)[: audio.size]
    peak = np.max(np.abs(wet)) or 1.0
    return (wet * (np.max(np.abs(audio)) / peak)).astype(np.float32)


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Plays audio `factor` times faster (pitch moves too, like tape)."""
    import soxr

    return soxr.resample(audio, SAMPLE_RATE * factor, SAMPLE_RATE).astype(np.float32)


def augment_audio(
    audio: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    if rng.random() < config.speed_probability:
        audio = change_speed(audio, rng.uniform(*config.speed_range))
    if rng.random() < config.reverb_probability:
        audio = reverberate(audio, rng)
    if rng.random() < config.noise_probability:
        audio = add_noise(
            audio,
            rng.uniform(*config.snr_db),
            rng,
            color="pink" if rng.random() < 0.5 else "white",
        )
    return add_noise(audio, rng.uniform(*config.noise_floor_db), rng)


@functools.lru_cache(maxsize=1)
def _mel_centres():
    import librosa

    return librosa.mel_frequencies(NUM_MELS + 2, fmin=20.0, fmax=7600.0)[1:-1]


def warp_frequency(features: np.ndarray, alpha: float) -> np.ndarray:
    """Vocal tract length perturbation on (frames, 80) log-mel features: the
    band at f Hz takes the value the input had at f / alpha (alpha > 1: a
    shorter vocal tract, formants move up), by linear interpolation between
    band centres; the edges are held."""
    centres = _mel_centres()
    source = np.interp(centres / alpha, centres, np.arange(NUM_MELS))
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, NUM_MELS - 1)
    weight = (source - low).astype(np.float32)
    return (features[:, low] * (1 - weight) + features[:, high] * weight).astype(
        np.float32
    )


def spec_augment(
    features: np.ndarray, config: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """Warps the frequency axis (with probability `warp_probability`), then
    masks random frequency bands and time spans with the mean (zero)."""
    if config.warp_probability and rng.random() < config.warp_probability:
        features = warp_frequency(features, rng.uniform(*config.warp_range))
    features = features.copy()
    frames, bands = features.shape
    for _ in range(config.freq_masks):
        width = int(rng.integers(0, config.freq_mask_width + 1))
        start = int(rng.integers(0, max(1, bands - width)))
        features[:, start : start + width] = 0.0
    for _ in range(config.time_masks):
        width = int(rng.integers(0, min(config.time_mask_width, frames // 10) + 1))
        start = int(rng.integers(0, max(1, frames - width)))
        features[start : start + width, :] = 0.0
    return features
