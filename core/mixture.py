"""Mixture density output for 2-D pen offsets (Graves 2013, section 4.1-4.2).

The network emits, per step, 6M + 1 raw numbers: for each of M bivariate
Gaussians a weight pi, means (mu1, mu2), standard deviations (sigma1, sigma2)
and a correlation rho; plus one end-of-stroke logit e_hat. Eq. 18-22:

    e = 1 / (1 + exp(e_hat))   pi = softmax(pi_hat)   mu = mu_hat
    sigma = exp(sigma_hat)     rho = tanh(rho_hat)

The loss (eq. 26) is the negative log-likelihood of the next offset (x1, x2)
and pen state x3, computed in the log domain with log-sum-exp so that no
probability underflows to zero and no NaN appears for extreme inputs.
Sampling takes Graves' bias b (section 5.4): sigma = exp(sigma_hat - b) and
pi = softmax(pi_hat * (1 + b)); b = 0 is the trained distribution, larger b
gives neater, more probable samples.
"""

import math

import keras
import numpy as np
from keras import ops

from core.cells import PACKAGE

# Bounds that keep exp() finite and 1 - rho^2 away from zero in float32.
LOG_SIGMA_LIMIT = 10.0
RHO_LIMIT = 1.0 - 1e-5


def num_mixture_params(num_components):
    return 6 * num_components + 1


@keras.saving.register_keras_serializable(package=PACKAGE)
class MixtureDensityHead(keras.layers.Layer):
    """Dense layer emitting the 6M + 1 raw mixture parameters per step.

    Args:
        num_components: M, the number of bivariate Gaussians (20 in Graves).

    Example:

    >>> head = MixtureDensityHead(20)
    >>> head(np.zeros((2, 7, 400), "float32")).shape
    (2, 7, 121)
    """

    def __init__(self, num_components=20, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_components, int) or num_components <= 0:
            raise ValueError(
                f"num_components must be a positive integer; got {num_components!r}"
            )
        self.num_components = num_components
        self.dense = keras.layers.Dense(num_mixture_params(num_components), name="raw")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(inputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], num_mixture_params(self.num_components))

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def split_mixture_params(raw, num_components):
    """Splits raw (..., 6M + 1) into the constrained parameters, in log form.

    Returns a dict of log_pi, mu1, mu2, log_sigma1, log_sigma2, rho (each
    (..., M)) and eos_logit (..., 1), where P(end of stroke) = sigmoid(-e_hat)
    is kept as its logit -e_hat.
    """
    m = num_components
    if raw.shape[-1] is not None and raw.shape[-1] != num_mixture_params(m):
        raise ValueError(
            f"mixture parameters need last dimension 6 * {m} + 1 = "
            f"{num_mixture_params(m)}; got shape {tuple(raw.shape)}"
        )
    pi_hat = raw[..., 0:m]
    return {
        "log_pi": pi_hat - ops.logsumexp(pi_hat, axis=-1, keepdims=True),
        "mu1": raw[..., m : 2 * m],
        "mu2": raw[..., 2 * m : 3 * m],
        "log_sigma1": ops.clip(
            raw[..., 3 * m : 4 * m], -LOG_SIGMA_LIMIT, LOG_SIGMA_LIMIT
        ),
        "log_sigma2": ops.clip(
            raw[..., 4 * m : 5 * m], -LOG_SIGMA_LIMIT, LOG_SIGMA_LIMIT
        ),
        "rho": ops.clip(ops.tanh(raw[..., 5 * m : 6 * m]), -RHO_LIMIT, RHO_LIMIT),
        "eos_logit": -raw[..., 6 * m :],
    }


def mixture_log_likelihood(targets, raw, num_components):
    """Per-step log p(x_(t+1) | y_t): (..., 3) targets, (..., 6M+1) raw -> (...)."""
    params = split_mixture_params(raw, num_components)
    x1 = targets[..., 0:1]
    x2 = targets[..., 1:2]
    eos = targets[..., 2]
    sigma1 = ops.exp(params["log_sigma1"])
    sigma2 = ops.exp(params["log_sigma2"])
    rho = params["rho"]
    d1 = (x1 - params["mu1"]) / sigma1
    d2 = (x2 - params["mu2"]) / sigma2
    one_minus_rho2 = 1.0 - rho * rho
    z = d1 * d1 + d2 * d2 - 2.0 * rho * d1 * d2  # eq. 25
    log_gauss = (
        -math.log(2.0 * math.pi)
        - params["log_sigma1"]
        - params["log_sigma2"]
        - 0.5 * ops.log(one_minus_rho2)
        - z / (2.0 * one_minus_rho2)
    )
    log_offsets = ops.logsumexp(params["log_pi"] + log_gauss, axis=-1)
    eos_logit = params["eos_logit"][..., 0]
    # log sigmoid(l) = -softplus(-l); log(1 - sigmoid(l)) = -softplus(l).
    log_eos = eos * -ops.softplus(-eos_logit) + (1.0 - eos) * -ops.softplus(eos_logit)
    return log_offsets + log_eos


def mixture_nll(targets, raw, num_components, mask=None):
    """Mean negative log-likelihood per sequence (sum over steps, eq. 26).

    Args:
        targets: (batch, time, 3) next offsets (dx, dy) and end-of-stroke.
        raw: (batch, time, 6M + 1) head output.
        num_components: M.
        mask: optional (batch, time) 1 for real steps, 0 for padding.
    """
    log_likelihood = mixture_log_likelihood(targets, raw, num_components)
    if mask is not None:
        log_likelihood = log_likelihood * ops.cast(mask, log_likelihood.dtype)
    return -ops.mean(ops.sum(log_likelihood, axis=-1))


@keras.saving.register_keras_serializable(package=PACKAGE)
class MixtureDensityLoss(keras.losses.Loss):
    """`mixture_nll` as a Keras loss (summed over steps, averaged over batch)."""

    def __init__(self, num_components=20, name="mixture_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_components = num_components

    def call(self, y_true, y_pred):
        return -ops.sum(
            mixture_log_likelihood(y_true, y_pred, self.num_components), axis=-1
        )

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def sample_mixture(raw, num_components, bias=0.0, rng=None):
    """Draws one (dx, dy, eos) per row from raw (batch, 6M + 1) parameters.

    Args:
        raw: NumPy array of head outputs for one step.
        num_components: M.
        bias: Graves' sampling bias b >= 0 (section 5.4).
        rng: `np.random.Generator` (for reproducible samples).

    Returns:
        (batch, 3) float32 array.
    """
    if bias < 0:
        raise ValueError(f"bias must be >= 0; got {bias}")
    rng = rng if rng is not None else np.random.default_rng()
    raw = np.asarray(raw, dtype=np.float64)
    expected = num_mixture_params(num_components)
    if raw.ndim != 2 or raw.shape[-1] != expected:
        raise ValueError(
            f"raw mixture parameters must have shape (batch, {expected}); "
            f"got {raw.shape}"
        )
    m = num_components
    logits = raw[:, :m] * (1.0 + bias)
    pi = np.exp(logits - logits.max(axis=-1, keepdims=True))
    pi /= pi.sum(axis=-1, keepdims=True)
    mu1, mu2 = raw[:, m : 2 * m], raw[:, 2 * m : 3 * m]
    log_s1 = np.clip(raw[:, 3 * m : 4 * m] - bias, -LOG_SIGMA_LIMIT, LOG_SIGMA_LIMIT)
    log_s2 = np.clip(raw[:, 4 * m : 5 * m] - bias, -LOG_SIGMA_LIMIT, LOG_SIGMA_LIMIT)
    rho = np.clip(np.tanh(raw[:, 5 * m : 6 * m]), -RHO_LIMIT, RHO_LIMIT)
    p_eos = 1.0 / (1.0 + np.exp(np.clip(raw[:, 6 * m], -50, 50)))
    out = np.zeros((raw.shape[0], 3), dtype=np.float32)
    for row in range(raw.shape[0]):
        k = rng.choice(m, p=pi[row])
        s1, s2, r = np.exp(log_s1[row, k]), np.exp(log_s2[row, k]), rho[row, k]
        cov = [[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]]
        out[row, :2] = rng.multivariate_normal([mu1[row, k], mu2[row, k]], cov)
        out[row, 2] = float(rng.random() < p_eos[row])
    return out
