#!/usr/bin/python3
"""PyTorch baseline for bench/optimizer_bench: one torch.optim step (foreach=True) over the same ~9.5M
float32 parameters (an MLP 3072 -> 1024 -> 6 x 1024 -> 10, weights and biases) with fixed gradients.

For each optimizer in --optimizers it runs --warmup untimed steps, then --rounds timings of --steps steps,
and prints one JSON line on stdout:
  {"framework": "pytorch", "optimizer": ..., "ms_per_step": median, "rounds_ms": [...], "torch_version": ...}
"""

import argparse
import json
import statistics
import sys
import time

import torch

# The Keras defaults each Strata optimizer runs with, in torch.optim's terms.
MAKERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, foreach=True),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, foreach=True),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, eps=1e-7, weight_decay=0.004, foreach=True),
    "adamax": lambda p: torch.optim.Adamax(p, lr=1e-3, eps=1e-7, foreach=True),
    "nadam": lambda p: torch.optim.NAdam(p, lr=1e-3, eps=1e-7, foreach=True),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-3, initial_accumulator_value=0.1, eps=1e-7, foreach=True),
    "adadelta": lambda p: torch.optim.Adadelta(p, lr=1e-3, rho=0.95, eps=1e-7, foreach=True),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7, foreach=True),
}

LAYERS = [3072, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 10]


def parameters():
    torch.manual_seed(0)
    params = []
    for fan_in, fan_out in zip(LAYERS[:-1], LAYERS[1:]):
        for shape in ((fan_in, fan_out), (fan_out,)):
            p = torch.nn.Parameter(torch.randn(shape) * 0.01)
            p.grad = torch.randn(shape) * 0.01
            params.append(p)
    return params


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--optimizers", default="sgd,adam")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = parameters()
    for name in args.optimizers.split(","):
        if name not in MAKERS:
            sys.exit(f"unknown optimizer {name!r}; expected one of {', '.join(MAKERS)}")
        optimizer = MAKERS[name](params)
        for _ in range(args.warmup):
            optimizer.step()
        rounds = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(args.steps):
                optimizer.step()
            rounds.append((time.perf_counter() - start) * 1e3 / args.steps)
        print(json.dumps({"framework": "pytorch", "optimizer": name, "ms_per_step": statistics.median(rounds),
                          "rounds_ms": rounds, "torch_version": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
