#!/usr/bin/python3
"""PyTorch baseline for bench/data_pipeline_bench: one pass over Fashion-MNIST's training images through
torch.utils.data.DataLoader, doing per sample what Strata's pipeline map does (decode to float, normalise, random
horizontal flip, pad 2 and random 28x28 crop), shuffle=True, batched.

Usage: data_pipeline_baseline.py --data DIR --workers W --batch-size B
Prints one JSON line: {"framework": "pytorch", "samples_per_s": ..., "workers": W, "torch_version": ...}
"""

import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols).copy())


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64))


class Augmented(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        image = (self.images[index].float() / 255.0 - MEAN) / STD
        if torch.rand(()) < 0.5:
            image = torch.flip(image, [1])
        image = F.pad(image, (2, 2, 2, 2))
        top, left = torch.randint(0, 5, (2,)).tolist()
        return image[top:top + 28, left:left + 28], self.labels[index]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = Augmented(read_idx_images(args.data + "/train-images-idx3-ubyte.gz"),
                        read_idx_labels(args.data + "/train-labels-idx1-ubyte.gz"))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    start = time.perf_counter()
    seen = 0
    for images, _ in loader:
        seen += images.shape[0]
    elapsed = time.perf_counter() - start
    print(json.dumps({"framework": "pytorch", "samples_per_s": seen / elapsed, "workers": args.workers,
                      "torch_version": torch.__version__}))


if __name__ == "__main__":
    main()
