#!/usr/bin/env python3
"""Recomputes Strata's layer cases with Keras and compares the outputs.

Reads the JSON written by keras_crosscheck_dump (run first when --dumper is given). For each case it
rebuilds the layer in Keras from Strata's serialized config (falling back to the case's own Keras
arguments when Keras rejects that config, which is reported), copies Strata's weights in with
set_weights, runs the same inputs (and masks) and compares every output.

The reference is tf.keras 2 (TensorFlow 2.15), or Keras 3 on its TensorFlow backend when the `keras`
package found is version 3.

Exit status: 0 all cases pass, 1 some fail, 77 TensorFlow is not installed (CTest reports a skip).
"""

import argparse
import inspect
import json
import os
import subprocess
import sys

TOLERANCE = 1e-5  # on max |strata - keras| / max(1, max |keras|)

# Where tf.keras 2 and Keras 3 disagree and Strata follows Keras 3: reported, not failed.
KERAS3_CHOICES = {
    "activation_hard_sigmoid": "tf.keras 2 computes clip(0.2x + 0.5, 0, 1); Keras 3 (and Strata) relu6(x + 3) / 6",
    "batchnorm_training_4d": "moving_variance: tf.keras 2's fused kernel (rank-4 input) averages in the unbiased "
    "batch variance, n/(n-1) times the biased one; Keras 3 (and Strata, and tf.keras 2 on rank-2 input) the biased",
    "lstm_act_variants": "recurrent_activation hard_sigmoid: tf.keras 2 clip(0.2x + 0.5); Keras 3 (and Strata) relu6(x + 3) / 6",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="the cases file (written by the dumper when --dumper is given)")
    parser.add_argument("--dumper", help="path of keras_crosscheck_dump; runs it to write the cases file")
    parser.add_argument("--only", help="run only the cases whose id contains this text")
    parser.add_argument("--configs", action="store_true", help="print every config difference in full")
    return parser.parse_args()


# Keys tf.keras 2.15 adds to every serialized object ({"module", "class_name", "config", "registered_name"});
# Strata writes the {"class_name", "config"} core, which tf.keras reads back.
SERIALIZATION_KEYS = {"module", "registered_name", "build_config"}


def normalize(value):
    """Configs compare by value: tuples as lists, numpy scalars as Python numbers, floats to float32
    precision, and without the serialization-only keys."""
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k not in SERIALIZATION_KEYS}
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def config_differences(strata, keras, prefix=""):
    """Keys only one side has, and keys whose values differ (names aside); nested layers key by key."""
    notes = []
    strata, keras = normalize(strata), normalize(keras)
    missing = sorted(set(keras) - set(strata))
    extra = sorted(set(strata) - set(keras))
    if missing:
        notes.append(f"{prefix}missing keys " + ", ".join(missing))
    if extra:
        notes.append(f"{prefix}extra keys " + ", ".join(extra))
    for key in sorted(set(strata) & set(keras)):
        if key == "name":
            continue
        s, k = strata[key], keras[key]
        if isinstance(s, dict) and isinstance(k, dict) and isinstance(s.get("config"), dict) and "layer" in key:
            notes += config_differences(s["config"], k.get("config", {}), f"{prefix}{key}.")
        elif s != k:
            notes.append(f"{prefix}{key}: strata {json.dumps(s, default=str)} != keras {json.dumps(k, default=str)}")
    return notes


KERAS = None  # the keras module under test: tf.keras, or Keras 3
KERAS_NAME = "tf.keras"
IS_KERAS3 = False


def make_layer(case):
    """The layer from Strata's config if Keras accepts it, else from the case's Keras arguments."""
    layers = KERAS.layers
    try:
        return layers.deserialize({"class_name": case["class_name"], "config": case["config"]}), None
    except Exception as e:  # every rejection is a finding, whatever its type
        rejection = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return from_arguments(case), rejection


def from_arguments(case):
    """The layer constructed from the case's Keras arguments, as a user would write it."""
    args = dict(case["keras_args"])
    if isinstance(args.get("layer"), dict):  # a wrapper's inner layer
        args["layer"] = from_arguments({"class_name": args["layer"]["class_name"],
                                            "keras_args": args["layer"]["config"]})
    return getattr(KERAS.layers, case["class_name"])(**args)


RECURRENT = {"SimpleRNN", "LSTM", "GRU"}


def call_layer(tf, np, layer, case, training=False):
    """Runs the layer as a Keras user would; returns the outputs and their Keras masks."""
    cls = case["class_name"]
    dtype = "int32" if cls == "Embedding" else "float32"
    inputs = [tf.constant(np.array(x).astype(dtype)) for x in case["inputs"]]
    masks = [None if m is None else tf.constant(np.array(m) != 0) for m in case.get("input_masks", [])]
    call = case.get("call", {})
    kwargs = {k: True for k in ("use_causal_mask", "return_attention_scores") if call.get(k)}
    # Keras masks ride on the inputs (MultiHeadAttention reads only these, and Keras 3 derives output masks
    # from them); a call() that takes a mask argument gets it explicitly too.
    for x, m in zip(inputs, masks):
        if m is not None:
            x._keras_mask = m
    if cls == "MultiHeadAttention":
        if "attention_mask" in call:
            kwargs["attention_mask"] = tf.constant(np.array(call["attention_mask"]) != 0)
        key = inputs[2] if len(inputs) > 2 else None
        out = layer(inputs[0], inputs[1], key=key, training=training, **kwargs)
    elif cls in RECURRENT and len(inputs) > 1:
        out = layer(inputs[0], initial_state=inputs[1:], mask=masks[0] if masks else None, training=training)
    else:
        if masks and "mask" in inspect.signature(layer.call).parameters:
            kwargs["mask"] = masks if len(inputs) > 1 else masks[0]
        out = layer(inputs if len(inputs) > 1 else inputs[0], training=training, **kwargs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [o.numpy() for o in outs], [getattr(o, "_keras_mask", None) for o in outs]


def check_case(tf, np, case):
    """Returns (passed, max_abs_diff or None, notes)."""
    if "strata_error" in case:
        return False, None, ["Strata could not run the case: " + case["strata_error"]]
    notes = []
    layer, rejection = make_layer(case)
    if rejection:
        notes.append(f"{KERAS_NAME} rejects Strata's config (" + rejection + "); built from the Keras arguments")
    call_layer(tf, np, layer, case)  # builds
    keras_names = [w.name for w in layer.weights]
    try:
        layer.set_weights([np.array(w, dtype=np.float32) for w in case["weights"]])
    except Exception as e:
        notes.append(f"set_weights failed: {e}; keras weights {keras_names}, strata {case['weight_names']}")
        return False, None, notes
    outputs, keras_masks = call_layer(tf, np, layer, case, training=case.get("training", False))
    if len(outputs) != len(case["outputs"]):
        notes.append(f"{len(case['outputs'])} Strata outputs, {len(outputs)} Keras outputs")
        return False, None, notes
    worst, passed = 0.0, True
    for i, (ours, ref) in enumerate(zip(case["outputs"], outputs)):
        ours = np.array(ours, dtype=np.float64)
        if ours.shape != ref.shape:
            notes.append(f"output {i}: Strata shape {list(ours.shape)}, Keras {list(ref.shape)}")
            passed = False
            continue
        diff = float(np.max(np.abs(ours - ref))) if ref.size else 0.0
        worst = max(worst, diff)
        scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
        if diff > TOLERANCE * scale:
            passed = False
            notes.append(f"output {i}: max abs diff {diff:.3g}")
    if "weights_after" in case:  # a training call's updates (moving statistics)
        for i, (ours, ref) in enumerate(zip(case["weights_after"], layer.get_weights())):
            diff = float(np.max(np.abs(np.array(ours) - ref))) if ref.size else 0.0
            worst = max(worst, diff)
            if diff > TOLERANCE * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0):
                passed = False
                notes.append(f"weight {i} ({keras_names[i]}) after the training call: max abs diff {diff:.3g}")
    keras_losses = float(sum(float(loss) for loss in layer.losses))
    if abs(case.get("losses", 0.0) - keras_losses) > TOLERANCE * max(1.0, abs(keras_losses)):
        passed = False
        notes.append(f"losses: Strata {case.get('losses', 0.0):.6g}, Keras {keras_losses:.6g}")
    if "output_masks" in case:
        mask_notes = mask_differences(np, case["output_masks"], keras_masks)
        passed = passed and not mask_notes
        notes += mask_notes
    return passed, worst, notes


def mask_differences(np, ours, theirs):
    """Strata's output masks against the _keras_mask tf.keras attached to each output."""
    notes = []
    for i, keras_mask in enumerate(theirs):
        strata_mask = ours[i] if i < len(ours) else None
        if keras_mask is None and strata_mask is None:
            continue
        if keras_mask is None or strata_mask is None:
            notes.append(f"mask of output {i}: Strata {'none' if strata_mask is None else 'one'}, "
                         f"Keras {'none' if keras_mask is None else 'one'}")
        elif not np.array_equal(np.array(strata_mask) != 0, keras_mask.numpy()):
            notes.append(f"mask of output {i} differs: Strata {np.array(strata_mask).astype(int).tolist()}, "
                         f"Keras {keras_mask.numpy().astype(int).tolist()}")
    return notes


def config_notes(case):
    if "config" not in case:
        return []
    try:
        reference = from_arguments(case)
    except Exception as e:
        return [f"{KERAS_NAME} rejects the case's own arguments: {e}"]
    return config_differences(case["config"], reference.get_config())


def main():
    args = parse_args()
    # TensorFlow first, so a machine without it skips even when only the unit tests were built.
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import numpy as np
        import tensorflow as tf
    except ImportError as e:
        print(f"SKIP: TensorFlow is not importable ({e}); pip install tensorflow-cpu==2.15.1")
        return 77
    if args.dumper:
        if not os.path.exists(args.dumper):
            print(f"FAIL: {args.dumper} is missing; build the keras_crosscheck_dump target")
            return 1
        subprocess.run([args.dumper, args.json], check=True)
    global KERAS, KERAS_NAME, IS_KERAS3
    KERAS, KERAS_NAME = tf.keras, "tf.keras 2"
    try:
        import keras
        if int(keras.__version__.split(".")[0]) >= 3:
            KERAS, KERAS_NAME, IS_KERAS3 = keras, f"Keras {keras.__version__}", True
    except ImportError:
        pass
    with open(args.json) as f:
        cases = json.load(f)
    if args.only:
        cases = [c for c in cases if args.only in c["id"]]
    print(f"{KERAS_NAME} (TensorFlow {tf.__version__}); tolerance {TOLERANCE:g} relative")
    failures, config_report = 0, {}
    for case in cases:
        try:
            passed, diff, notes = check_case(tf, np, case)
        except Exception as e:
            passed, diff, notes = False, None, [f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"]
        verdict = "PASS" if passed else "FAIL"
        if not passed and case["id"] in KERAS3_CHOICES and not IS_KERAS3:
            verdict = "KERAS3"
            notes.append("expected: " + KERAS3_CHOICES[case["id"]])
        failures += verdict == "FAIL"
        shown = "-" if diff is None else f"{diff:.2e}"
        print(f"{verdict:<6}  {case['id']:<26} {case['class_name']:<22} {shown:>9}  "
              + "; ".join(notes))
        for note in config_notes(case):
            config_report.setdefault((case["class_name"], note), []).append(case["id"])
    print(f"\n{len(cases) - failures}/{len(cases)} cases match {KERAS_NAME} (KERAS3: Strata follows Keras 3 where "
          "tf.keras 2 differs)")
    if config_report:
        print(f"\nConfig differences, Strata's get_config() vs {KERAS_NAME}'s for the same arguments:")
        for (class_name, note), ids in config_report.items():
            shown = note if args.configs else note[:240]
            print(f"  {class_name}: {shown}  [{len(ids)} case(s), e.g. {ids[0]}]")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
