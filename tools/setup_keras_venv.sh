#!/usr/bin/env bash
# Creates the virtual environment the Keras interoperability test (CTest keras.interop, tools/keras_interop)
# runs in: Keras 3 from PyPI with the numpy backend's needs (h5py, numpy, scipy, jax), no TensorFlow.
#   tools/setup_keras_venv.sh [VENV_DIR]     default: <repo>/.venv-keras (git-ignored)
# It never fails: without python3's venv module or without network access it says why and exits 0, and the
# interop test then reports itself skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-$PWD/.venv-keras}"
PACKAGES=(keras h5py numpy scipy jax tensorboard)

have_keras() {
  KERAS_BACKEND=numpy "$VENV/bin/python" -c 'import h5py, keras; assert keras.__version__.startswith("3.")' \
    >/dev/null 2>&1
}

if [ -x "$VENV/bin/python" ] && have_keras; then
  echo "setup_keras_venv: Keras 3 already present in $VENV"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "setup_keras_venv: no python3; the Keras interop test will be skipped"
  exit 0
fi
if ! python3 -m venv "$VENV"; then
  echo "setup_keras_venv: 'python3 -m venv' failed (Debian: install python3-venv); the Keras interop test will be skipped"
  rm -rf "$VENV"
  exit 0
fi
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --retries 2 "${PACKAGES[@]}"; then
  echo "setup_keras_venv: pip could not install ${PACKAGES[*]} (offline?); the Keras interop test will be skipped"
  rm -rf "$VENV"
  exit 0
fi
if have_keras; then
  echo "setup_keras_venv: $("$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(keras|h5py|numpy|jax) ' | tr -s ' ' | paste -sd, -) in $VENV"
else
  echo "setup_keras_venv: Keras installed in $VENV but does not import with KERAS_BACKEND=numpy; the interop test will be skipped"
fi
exit 0
