import keras
import numpy as np
import pytest

from core.mixture import (
    MixtureDensityHead,
    MixtureDensityLoss,
    mixture_log_likelihood,
    mixture_nll,
    num_mixture_params,
    sample_mixture,
)

M = 2


def _raw(pi_hat, mu1, mu2, log_s1, log_s2, rho_hat, e_hat):
    return np.concatenate([pi_hat, mu1, mu2, log_s1, log_s2, rho_hat, [e_hat]]).astype(
        "float32"
    )


def _direct_likelihood(x1, x2, eos, pi_hat, mu1, mu2, log_s1, log_s2, rho_hat, e_hat):
    """Graves eq. 23-26 computed directly in the probability domain."""
    pi = np.exp(pi_hat) / np.exp(pi_hat).sum()
    s1, s2, rho = np.exp(log_s1), np.exp(log_s2), np.tanh(rho_hat)
    z = (
        ((x1 - mu1) / s1) ** 2
        + ((x2 - mu2) / s2) ** 2
        - 2 * rho * (x1 - mu1) * (x2 - mu2) / (s1 * s2)
    )
    density = np.exp(-z / (2 * (1 - rho**2))) / (
        2 * np.pi * s1 * s2 * np.sqrt(1 - rho**2)
    )
    e = 1 / (1 + np.exp(e_hat))
    return np.log((pi * density).sum()) + np.log(e if eos else 1 - e)


@pytest.mark.parametrize("eos", [0.0, 1.0])
def test_log_likelihood_matches_the_direct_formula(eos):
    params = dict(
        pi_hat=np.array([0.3, -0.2]),
        mu1=np.array([0.1, -0.4]),
        mu2=np.array([0.5, 0.0]),
        log_s1=np.array([-0.3, 0.2]),
        log_s2=np.array([0.1, -0.5]),
        rho_hat=np.array([0.4, -0.7]),
        e_hat=0.8,
    )
    x1, x2 = 0.2, 0.3
    expected = _direct_likelihood(x1, x2, eos, **params)
    raw = _raw(*params.values())[None]
    targets = np.array([[x1, x2, eos]], dtype="float32")
    actual = keras.ops.convert_to_numpy(mixture_log_likelihood(targets, raw, M))
    np.testing.assert_allclose(actual[0], expected, rtol=1e-5)


def test_extreme_inputs_give_finite_loss_and_gradients():
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check uses tf.GradientTape")
    raw = tf.Variable(
        np.array(
            [[[1e4, -1e4, 1e3, -1e3, 50, -50, 80, -80, -80, 80, 1e3, -1e3, 1e4]]],
            dtype="float32",
        )
    )
    targets = tf.constant([[[1e3, -1e3, 1.0]]])
    with tf.GradientTape() as tape:
        loss = mixture_nll(targets, raw, M)
    grad = tape.gradient(loss, raw)
    assert np.isfinite(loss.numpy()) and np.all(np.isfinite(grad.numpy()))


def test_mask_removes_padded_steps():
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((1, 3, num_mixture_params(M))).astype("float32")
    targets = rng.standard_normal((1, 3, 3)).astype("float32")
    targets[..., 2] = 0
    full = float(mixture_nll(targets[:, :2], raw[:, :2], M))
    masked = float(mixture_nll(targets, raw, M, mask=np.array([[1, 1, 0]])))
    np.testing.assert_allclose(masked, full, rtol=1e-5)


def test_head_layer_and_loss_round_trip(layer_checker, tmp_path):
    head = MixtureDensityHead(M)
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype("float32")
    assert tuple(head(x).shape) == (2, 4, num_mixture_params(M))
    layer_checker(MixtureDensityHead(M), x)
    loss = MixtureDensityLoss(num_components=M)
    assert MixtureDensityLoss.from_config(loss.get_config()).num_components == M


def test_head_learns_a_2d_distribution():
    """A 3-component head fitted to two clusters lowers the NLL markedly."""
    rng = np.random.default_rng(0)
    centre = rng.choice([-2.0, 2.0], size=(256, 1))
    targets = np.concatenate(
        [
            centre + 0.1 * rng.standard_normal((256, 1)),
            0.3 * rng.standard_normal((256, 1)),
            np.zeros((256, 1)),
        ],
        axis=-1,
    ).astype("float32")[:, None, :]
    inputs = np.ones((256, 1, 1), "float32")
    model = keras.Sequential([keras.Input((1, 1)), MixtureDensityHead(3)])
    model.compile(keras.optimizers.Adam(0.05), MixtureDensityLoss(num_components=3))
    losses = model.fit(inputs, targets, epochs=60, batch_size=256, verbose=0)
    history = losses.history["loss"]
    assert history[-1] < history[0] - 1.0


def test_sampling_bias_concentrates_samples():
    raw = np.zeros((2000, num_mixture_params(M)), "float32")
    raw[:, 0] = 1.0  # component 0 more likely
    raw[:, M] = 3.0  # its mu1
    raw[:, M + 1] = -3.0  # component 1's mu1
    rng = np.random.default_rng(0)
    plain = sample_mixture(raw, M, bias=0.0, rng=rng)
    biased = sample_mixture(raw, M, bias=2.0, rng=np.random.default_rng(0))
    assert np.std(biased[:, 0]) < np.std(plain[:, 0])
    assert np.mean(biased[:, 0] > 0) > np.mean(plain[:, 0] > 0)
    assert set(np.unique(plain[:, 2])) <= {0.0, 1.0}


def test_bad_shapes_and_bias_are_refused():
    with pytest.raises(ValueError, match=r"shape \(batch, 13\)"):
        sample_mixture(np.zeros((2, 12)), M)
    with pytest.raises(ValueError, match="bias must be >= 0"):
        sample_mixture(np.zeros((2, 13)), M, bias=-1)
    with pytest.raises(ValueError, match="need last dimension"):
        mixture_nll(np.zeros((1, 1, 3), "float32"), np.zeros((1, 1, 12), "float32"), M)
