#!/usr/bin/env python3
"""Rebuilds Strata's whole-model cases in tf.keras and compares what both report.

Reads the JSON written by keras_crosscheck_models_dump (run first when --dumper is given). For each case it
builds the same model in tf.keras from the dumped structure (functional nodes, nested models; a subclassed
model is a tf.keras subclass around the same functional body), copies Strata's weights in by layer name,
compiles it the way the case says, and compares:
  - summary(): the text, line by line (functional cases);
  - evaluate(..., sample_weight): the logs, keys in order and values;
  - fit(2 epochs, batch 4, shuffle=False, class_weight, sample_weight, validation_data): History keys and values;
  - the weights after fit.
Exit status: 0 all cases match, 1 some do not, 77 TensorFlow is not installed (CTest reports a skip).
"""

import argparse
import json
import os
import subprocess
import sys

TOLERANCE = 1e-4  # on |strata - keras| / max(1, |keras|), after 2 epochs of training in float32


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="the cases file (written by the dumper when --dumper is given)")
    parser.add_argument("--dumper", help="path of keras_crosscheck_models_dump; runs it to write the cases file")
    return parser.parse_args()


def build(tf, spec):
    """A tf.keras model (or layer) from the dumped structure."""
    if spec["class_name"] == "Sequential":
        model = tf.keras.Sequential(name=spec["name"])
        model.add(tf.keras.Input(shape=spec["input_shape"]))
        for layer in spec["layers"]:
            model.add(build(tf, layer))
        return model
    if spec["class_name"] != "Functional":
        return tf.keras.layers.deserialize(spec)
    tensors, layers = {}, {}
    for node in spec["nodes"]:
        entry = node["layer"]
        name = entry["name"] if "nodes" in entry or "layers" in entry else entry["config"]["name"]
        key = (name, node["node_index"])
        if entry["class_name"] == "InputLayer":
            config = entry["config"]
            tensors[key] = [tf.keras.Input(shape=config["batch_input_shape"][1:], name=name, dtype=config["dtype"])]
            continue
        if name not in layers:
            layers[name] = build(tf, entry)
        args = [tensors[(n, i)][t] for n, i, t in node["inbound"]]
        out = layers[name](args if len(args) > 1 else args[0])
        tensors[key] = list(out) if isinstance(out, (list, tuple)) else [out]
    inputs = [tensors[(n, 0)][0] for n in spec["inputs"]]
    outputs = [tensors[(n, i)][t] for n, i, t in spec["outputs"]]
    return tf.keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=spec["name"])


def subclass_around(tf, body):
    class TwoHeads(tf.keras.Model):
        def __init__(self):
            super().__init__(name="two_heads")
            self.heads = body

        def call(self, inputs):
            return self.heads(inputs)

    return TwoHeads()


def leaf_layers(tf, model):
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from leaf_layers(tf, layer)
        else:
            yield layer


def keras_loss(tf, spec):
    return spec if isinstance(spec, str) else tf.keras.losses.deserialize(spec)


def compile_args(tf, spec):
    loss = spec["loss"]
    if isinstance(loss, dict) and "class_name" not in loss:
        loss = {k: keras_loss(tf, v) for k, v in loss.items()}
    elif isinstance(loss, list):
        loss = [keras_loss(tf, v) for v in loss]
    else:
        loss = keras_loss(tf, loss)
    args = {"loss": loss, "optimizer": None}
    for key in ("metrics", "weighted_metrics", "loss_weights"):  # JSON as tf.keras takes it
        if key in spec:
            args[key] = spec[key]
    return args


def close(ours, theirs):
    return abs(ours - theirs) <= TOLERANCE * max(1.0, abs(theirs))


def compare_logs(notes, what, ours, theirs):
    """`ours` is [[key, value], ...] in Strata's order; `theirs` a dict in tf.keras' order."""
    ours_keys = [k for k, _ in ours]
    if ours_keys != list(theirs):
        notes.append(f"{what} keys: strata {ours_keys} != keras {list(theirs)}")
    for key, value in ours:
        if key in theirs and not all(close(a, b) for a, b in zip(value if isinstance(value, list) else [value],
                                                                  theirs[key] if isinstance(theirs[key], list) else [theirs[key]])):
            notes.append(f"{what}[{key}]: strata {value} != keras {theirs[key]}")


def check_case(tf, np, case):
    if "strata_error" in case:
        return ["Strata could not run the case: " + case["strata_error"]]
    notes = []
    model = build(tf, case["structure"])
    spec = case["keras_compile"]
    if spec.get("subclassed"):
        model = subclass_around(tf, model)
    x = [np.array(t, dtype=np.float32) for t in case["x"]]
    y = [np.array(t, dtype=dtype) for t, dtype in zip(case["y"], case["y_dtypes"])]
    model(x if len(x) > 1 else x[0])  # builds a subclassed model
    for layer in leaf_layers(tf, model):
        if layer.weights:
            layer.set_weights([np.array(w, dtype=np.float32) for w in case["weights"][layer.name]])
    args = compile_args(tf, spec)
    args["optimizer"] = tf.keras.optimizers.SGD(learning_rate=spec["learning_rate"])
    model.compile(**args)

    if case["compare_summary"]:
        lines = []
        model.summary(print_fn=lambda line, **kwargs: lines.append(line))
        ours = case["summary"].rstrip("\n").split("\n")
        for i, (a, b) in enumerate(zip(ours, lines)):
            if a != b:
                notes.append(f"summary line {i + 1}:\n  strata |{a}|\n  keras  |{b}|")
                break
        if len(ours) != len(lines):
            notes.append(f"summary: {len(ours)} lines from Strata, {len(lines)} from tf.keras")

    xs = x if len(x) > 1 else x[0]
    ys = y if len(y) > 1 else y[0]
    sw = None if case["sample_weight"] is None else np.array(case["sample_weight"], dtype=np.float32)
    logs = model.evaluate(xs, ys, batch_size=5, sample_weight=sw, verbose=0, return_dict=True)
    compare_logs(notes, "evaluate", case["evaluate"], logs)

    class_weight = None if case["class_weight"] is None else {int(k): v for k, v in case["class_weight"].items()}
    history = model.fit(xs, ys, batch_size=4, epochs=2, verbose=0, shuffle=False, sample_weight=sw,
                        class_weight=class_weight, validation_data=(xs, ys, sw) if sw is not None else (xs, ys))
    theirs = history.history
    # History is a dict on both sides: keys compare as sets (sorted), values per epoch.
    compare_logs(notes, "History", sorted(case["history"]), {k: theirs[k] for k in sorted(theirs)})

    for layer in leaf_layers(tf, model):
        for i, (ours_w, theirs_w) in enumerate(zip(case["weights_after"].get(layer.name, []), layer.get_weights())):
            diff = np.max(np.abs(np.array(ours_w) - theirs_w)) if theirs_w.size else 0.0
            if diff > TOLERANCE * max(1.0, np.max(np.abs(theirs_w))):
                notes.append(f"weights after fit, {layer.name}[{i}]: max difference {diff:.2e}")
    return notes


def main():
    args = parse_args()
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import numpy as np
        import tensorflow as tf
    except ImportError:
        print("TensorFlow is not installed; skipping the tf.keras model cross-check")
        return 77
    if args.dumper:
        subprocess.run([args.dumper, args.json], check=True)
    with open(args.json) as f:
        cases = json.load(f)
    failures = 0
    for case in cases:
        notes = check_case(tf, np, case)
        status = "ok" if not notes else "FAIL"
        failures += bool(notes)
        print(f"{status:4} {case['id']}")
        for note in notes:
            print("     " + note)
    print(f"{len(cases) - failures}/{len(cases)} model cases match tf.keras {tf.keras.__version__ if hasattr(tf.keras, '__version__') else tf.__version__}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
