#!/usr/bin/python3
"""PyTorch baseline for bench/save_bench: torch.save / torch.load of a state dict with the given tensor shapes.

Usage: save_baseline.py --dir DIR --rounds R --shapes 1024x2048,2048,...
Times each round (median reported) and prints exactly one JSON line on stdout:
  {"framework": "pytorch", "save_ms": ..., "save_fsync_ms": ..., "load_ms": ..., "bytes": ..., "torch_version": ...}
save_fsync_ms adds an fsync of the file, which Strata's atomic save always does.
"""

import argparse
import json
import os
import statistics
import time

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shapes", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shapes = [[int(d) for d in s.split("x")] for s in args.shapes.split(",")]
    state = {f"w{i}": torch.rand(shape) for i, shape in enumerate(shapes)}
    path = os.path.join(args.dir, "torch_state.pt")
    save, save_fsync, load = [], [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        torch.save(state, path)
        save.append(time.perf_counter() - start)
        start = time.perf_counter()
        with open(path, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        save_fsync.append(time.perf_counter() - start)
        start = time.perf_counter()
        loaded = torch.load(path)
        load.append(time.perf_counter() - start)
        assert all(torch.equal(loaded[k], state[k]) for k in state)
    size = os.path.getsize(path)
    os.remove(path)
    print(json.dumps({"framework": "pytorch", "save_ms": statistics.median(save) * 1e3,
                      "save_fsync_ms": statistics.median(save_fsync) * 1e3,
                      "load_ms": statistics.median(load) * 1e3, "bytes": size,
                      "torch_version": torch.__version__}))


if __name__ == "__main__":
    main()
