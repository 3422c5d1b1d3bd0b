#!/usr/bin/python3
"""PyTorch baseline for bench/distributed_bench: the Fashion-MNIST CNN of bench/fashion_mnist_cnn.h trained with
DistributedDataParallel (gloo on loopback, default bucket_cap_mb 25) in --processes processes started by
torch.multiprocessing, each pinned to its own core (allowed core `rank mod count`, as strata-run --bind-cores does)
with one thread. Weak scaling: every step is a global batch of per_replica_batch x processes samples, shuffled from
the first (warmup + steps) global batches of the training set, and each rank trains on its contiguous block of rows,
as Strata's replicas do. Rank 0 times --steps steps after --warmup untimed ones and prints one JSON line:
  {"framework": "pytorch_ddp", "processes": N, "global_batch": B, "samples_per_s": ..., "ms_per_step": ...,
   "torch_version": ...}

Usage: distributed_baseline.py --processes N [--per-replica-batch 64] [--steps 40] [--warmup 5] [--data DIR]
"""

import argparse
import json
import os
import socket
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

# The same network and IDX reader as the single-process baseline (same directory).
from torch_baseline import build_model, read_idx

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load(data_dir, samples):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    if images.shape[0] < samples:
        raise SystemExit(f"need {samples} training images, {data_dir} has {images.shape[0]}")
    x = torch.from_numpy(images[:samples].copy()).to(torch.float32).div_(255.0)
    y = torch.from_numpy(labels[:samples].astype(np.int64))
    return x, y


def worker(rank, args, port, cores):
    # Pin first, so every thread this process starts later (gloo's included) inherits the core.
    os.sched_setaffinity(0, {cores[rank % len(cores)]})
    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=args.processes)
    global_batch = args.per_replica_batch * args.processes
    steps = args.warmup + args.steps
    x, y = load(args.data, steps * global_batch)

    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(build_model("cnn"))  # broadcasts rank 0's weights
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)  # Keras' epsilon
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))  # the same on every rank
    begin, end = rank * args.per_replica_batch, (rank + 1) * args.per_replica_batch

    # Running loss and accuracy kept in tensors, as Keras' metric trackers (and Strata's fit) keep them.
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.int64)

    def train_step(step):
        rows = order[step * global_batch:(step + 1) * global_batch][begin:end]
        batch_x, batch_y = x.index_select(0, rows), y.index_select(0, rows)
        optimizer.zero_grad(set_to_none=True)
        logits = model(batch_x)
        loss = loss_fn(logits, batch_y)
        loss.backward()  # DDP all-reduces the gradients (averaged) in buckets during backward
        optimizer.step()
        with torch.no_grad():
            loss_sum.add_(loss.detach() * batch_y.shape[0])
            correct.add_((logits.argmax(dim=1) == batch_y).sum())

    model.train()
    for step in range(args.warmup):
        train_step(step)
    start = time.perf_counter()
    for step in range(args.warmup, steps):
        train_step(step)
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({"framework": "pytorch_ddp", "processes": args.processes, "global_batch": global_batch,
                          "samples_per_s": args.steps * global_batch / elapsed,
                          "ms_per_step": elapsed * 1e3 / args.steps, "torch_version": torch.__version__}),
              flush=True)
    dist.destroy_process_group()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--per-replica-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--data", default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    if min(args.processes, args.per_replica_batch, args.steps, args.warmup) < 1:
        parser.error("--processes, --per-replica-batch, --steps and --warmup must be >= 1")
    cores = sorted(os.sched_getaffinity(0))
    mp.spawn(worker, args=(args, free_port(), cores), nprocs=args.processes, join=True)


if __name__ == "__main__":
    main()
