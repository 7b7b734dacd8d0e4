#!/usr/bin/env bash
# One-time (idempotent) set-up: Debian packages, the virtual environment, the
# project itself, and librosa's numba cache. Fast when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

# 1. Debian packages (text-to-speech engines, audio tools), listed one per line.
mapfile -t wanted < <(grep -v '^\s*#' scripts/apt-packages.txt | awk 'NF {print $1}')
missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# 2. The virtual environment and the project (re-installed when pyproject changes).
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.rnn-demos-installed"
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "setup: installing the project into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[dev,jax]"
    echo "$digest" > "$stamp"
fi

# 3. librosa compiles its numba kernels on first use (~30 s): do it once here.
numba_stamp="$VENV/.rnn-demos-numba-warm"
if [ ! -f "$numba_stamp" ]; then
    echo "setup: warming librosa's numba cache"
    "$VENV/bin/python" - <<'PY'
import numpy as np
import librosa

y = np.random.default_rng(0).standard_normal(16000).astype("float32") * 0.1
librosa.feature.melspectrogram(y=y, sr=16000, n_fft=400, hop_length=160, n_mels=80)
librosa.onset.onset_detect(y=y, sr=16000)
librosa.effects.split(y, top_db=40)
librosa.resample(y, orig_sr=16000, target_sr=8000)
librosa.effects.time_stretch(y, rate=1.1)
PY
    touch "$numba_stamp"
fi
