#!/usr/bin/env bash
# Installs everything Strata needs from Debian bookworm's packages; uses sudo when not run as root.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake ccache git pkg-config \
  libtorch-dev libopenblas0-openmp zlib1g-dev \
  libhdf5-dev libprotobuf-dev protobuf-compiler nlohmann-json3-dev libspdlog-dev catch2 \
  libpng-dev libjpeg-dev libgloo-dev libhiredis-dev redis-server \
  dataset-fashion-mnist python3-torch python3-venv
