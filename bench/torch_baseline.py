#!/usr/bin/python3
"""PyTorch baselines for Strata's Fashion-MNIST benchmarks (bench/mlp_bench, bench/cnn_bench).

Trains the examples' models (--model mlp: examples/fashion_mnist_mlp.cpp, --model cnn:
examples/fashion_mnist_cnn.cpp) with Adam the way a Keras fit() loop does (shuffled mini-batches,
running loss and accuracy kept as tensors), times `--steps` training steps after `--warmup` untimed
ones, and prints exactly one JSON line on stdout:
  {"framework": "pytorch", "model": ..., "ms_per_step": ..., "steps": ..., "threads": N, "torch_version": ...}
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"

# IDX element type byte -> big-endian numpy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Reads a (gzip-compressed) IDX file into a native-byte-order numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    type_code, rank = raw[2], raw[3]
    if type_code not in IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{type_code:02X}")
    header_bytes = 4 + 4 * rank
    if len(raw) < header_bytes:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * rank, raw[4:header_bytes])
    dtype = np.dtype(IDX_DTYPES[type_code])
    count = math.prod(dims)
    expected_bytes = header_bytes + count * dtype.itemsize
    if len(raw) != expected_bytes:
        raise ValueError(f"{path}: expected {expected_bytes} bytes for shape {list(dims)}, got {len(raw)}")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header_bytes).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def load_train(data_dir):
    images_path = os.path.join(data_dir, "train-images-idx3-ubyte.gz")
    labels_path = os.path.join(data_dir, "train-labels-idx1-ubyte.gz")
    for path in (images_path, labels_path):
        if not os.path.isfile(path):
            sys.exit(f"{path} not found: install the Debian package dataset-fashion-mnist "
                     f"(apt-get install dataset-fashion-mnist) or pass --data DIR")
    x = torch.from_numpy(read_idx(images_path)).to(torch.float32).div_(255.0)
    y = torch.from_numpy(read_idx(labels_path).astype(np.int64))
    if x.shape[0] != y.shape[0]:
        sys.exit(f"{images_path} has {x.shape[0]} images but {labels_path} has {y.shape[0]} labels")
    return x, y


def shuffled_batches(x, y, batch_size):
    """Endless stream of mini-batches, reshuffled every epoch; the last batch of an epoch may be short."""
    n = x.shape[0]
    while True:
        order = torch.randperm(n)
        for start in range(0, n, batch_size):
            batch_indices = order[start:start + batch_size]
            yield x.index_select(0, batch_indices), y.index_select(0, batch_indices)


def build_model(name):
    """The example's network in PyTorch's layout (NCHW for the CNN; Keras' defaults for BN: eps 1e-3,
    momentum 0.99, which is PyTorch's momentum 0.01)."""
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(256, 10),
        )
    return nn.Sequential(
        nn.Unflatten(1, (1, 28)),
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(128, 10),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp", help="which example's network")
    parser.add_argument("--data", default=DEFAULT_DATA_DIR, help="directory with the Fashion-MNIST IDX .gz files")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads value")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=0,
                        help="train on the first N training samples only (0 = all 60000)")
    parser.add_argument("--steps", type=int, default=200, help="number of timed training steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before timing starts")
    parser.add_argument("--verbose", action="store_true", help="also print loss/accuracy to stderr")
    args = parser.parse_args()
    if args.threads < 1 or args.batch_size < 1 or args.steps < 1 or args.warmup < 0 or args.samples < 0:
        parser.error("--threads, --batch-size and --steps must be >= 1, --warmup and --samples >= 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = load_train(args.data)
    if 0 < args.samples < x.shape[0]:
        x, y = x[:args.samples].contiguous(), y[:args.samples].contiguous()

    model = build_model(args.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    # Like Keras' metric trackers: accumulate on tensors so the loop never forces a host sync via .item().
    loss_sum = torch.zeros((), dtype=torch.float32)
    correct_count = torch.zeros((), dtype=torch.int64)
    sample_count = 0

    def train_step(batch_x, batch_y):
        nonlocal sample_count
        optimizer.zero_grad(set_to_none=True)
        logits = model(batch_x)
        loss = loss_fn(logits, batch_y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            loss_sum.add_(loss.detach() * batch_y.shape[0])
            correct_count.add_((logits.argmax(dim=1) == batch_y).sum())
        sample_count += batch_y.shape[0]

    batches = shuffled_batches(x, y, args.batch_size)
    for _ in range(args.warmup):
        train_step(*next(batches))

    start = time.perf_counter()
    for _ in range(args.steps):
        train_step(*next(batches))
    # Reading the accumulators ends the timed region the way a Keras epoch-end log would.
    final_loss = loss_sum.item() / max(sample_count, 1)
    final_accuracy = correct_count.item() / max(sample_count, 1)
    elapsed = time.perf_counter() - start

    if args.verbose:
        print(f"mean loss {final_loss:.4f}, accuracy {final_accuracy:.4f} over {sample_count} samples",
              file=sys.stderr)
    print(json.dumps({
        "framework": "pytorch",
        "model": args.model,
        "ms_per_step": round(elapsed * 1000.0 / args.steps, 4),
        "steps": args.steps,
        "threads": args.threads,
        "torch_version": torch.__version__,
    }))


if __name__ == "__main__":
    main()
