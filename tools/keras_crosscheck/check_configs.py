#!/usr/bin/env python3
"""Checks Strata's model configs against the Keras this interpreter imports, both ways.

For each case (one of every Strata layer class on Input()s, plus Sequential and nested models):
  Strata -> Keras: keras_config_dump writes the model's config in the dialect of the Keras found (Keras 3:
      Strata's to_json(); tf.keras 2: the Keras 2 dialect) and Keras must build it with model_from_json.
  Keras -> Strata: the config Keras writes for that model (model.to_json(); when Keras refused Strata's
      config, for the same model built in Keras from the case's arguments) must build in Strata with the
      same summary() text as the original, and the same Strata config (so no argument was lost on the way).

Keras 3 runs on any backend (KERAS_BACKEND=numpy is enough); tf.keras 2 is the `keras` of TensorFlow 2.
Exit status: 0 every case passes both ways, 1 some do not, 77 no Keras is importable (CTest: skipped).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

L = lambda cls, **cfg: {"class_name": cls, "config": dict(cfg, name="layer")}  # noqa: E731

IMG = [[6, 6, 3]]
SEQ = [[5, 4]]
VEC = [[4]]
VOL = [[4, 4, 4, 2]]
CASES = [
    ("Dense", L("Dense", units=3, activation="relu"), VEC),
    ("Activation", L("Activation", activation="tanh"), VEC),
    ("Dropout", L("Dropout", rate=0.5), VEC),
    ("Flatten", L("Flatten"), SEQ),
    ("Reshape", L("Reshape", target_shape=[20]), SEQ),
    ("Conv1D", L("Conv1D", filters=2, kernel_size=[3]), SEQ),
    ("Conv2D", L("Conv2D", filters=2, kernel_size=[3, 3], padding="same"), IMG),
    ("Conv3D", L("Conv3D", filters=2, kernel_size=[2, 2, 2]), VOL),
    ("Conv1DTranspose", L("Conv1DTranspose", filters=2, kernel_size=[3]), SEQ),
    ("Conv2DTranspose", L("Conv2DTranspose", filters=2, kernel_size=[3, 3]), IMG),
    ("Conv3DTranspose", L("Conv3DTranspose", filters=2, kernel_size=[2, 2, 2]), VOL),
    ("DepthwiseConv2D", L("DepthwiseConv2D", kernel_size=[3, 3]), IMG),
    ("SeparableConv2D", L("SeparableConv2D", filters=2, kernel_size=[3, 3]), IMG),
    ("ReLU", L("ReLU"), VEC),
    ("LeakyReLU", L("LeakyReLU"), VEC),
    ("PReLU", L("PReLU"), VEC),
    ("ELU", L("ELU"), VEC),
    ("Softmax", L("Softmax"), VEC),
    ("MaxPooling1D", L("MaxPooling1D"), SEQ),
    ("MaxPooling2D", L("MaxPooling2D"), IMG),
    ("MaxPooling3D", L("MaxPooling3D"), VOL),
    ("AveragePooling1D", L("AveragePooling1D"), SEQ),
    ("AveragePooling2D", L("AveragePooling2D"), IMG),
    ("AveragePooling3D", L("AveragePooling3D"), VOL),
    ("GlobalMaxPooling1D", L("GlobalMaxPooling1D"), SEQ),
    ("GlobalMaxPooling2D", L("GlobalMaxPooling2D"), IMG),
    ("GlobalMaxPooling3D", L("GlobalMaxPooling3D"), VOL),
    ("GlobalAveragePooling1D", L("GlobalAveragePooling1D"), SEQ),
    ("GlobalAveragePooling2D", L("GlobalAveragePooling2D"), IMG),
    ("GlobalAveragePooling3D", L("GlobalAveragePooling3D"), VOL),
    ("BatchNormalization", L("BatchNormalization"), VEC),
    ("LayerNormalization", L("LayerNormalization"), VEC),
    ("GroupNormalization", L("GroupNormalization", groups=2), VEC),
    ("UnitNormalization", L("UnitNormalization"), VEC),
    ("SpatialDropout1D", L("SpatialDropout1D", rate=0.1), SEQ),
    ("SpatialDropout2D", L("SpatialDropout2D", rate=0.1), IMG),
    ("SpatialDropout3D", L("SpatialDropout3D", rate=0.1), VOL),
    ("GaussianDropout", L("GaussianDropout", rate=0.1), VEC),
    ("GaussianNoise", L("GaussianNoise", stddev=0.1), VEC),
    ("AlphaDropout", L("AlphaDropout", rate=0.1), VEC),
    ("ActivityRegularization", L("ActivityRegularization", l1=0.01), VEC),
    ("Add", L("Add"), VEC * 2),
    ("Subtract", L("Subtract"), VEC * 2),
    ("Multiply", L("Multiply"), VEC * 2),
    ("Average", L("Average"), VEC * 2),
    ("Maximum", L("Maximum"), VEC * 2),
    ("Minimum", L("Minimum"), VEC * 2),
    ("Concatenate", L("Concatenate", axis=-1), VEC * 2),
    ("Dot", L("Dot", axes=1), VEC * 2),
    ("Permute", L("Permute", dims=[2, 1]), SEQ),
    ("RepeatVector", L("RepeatVector", n=3), VEC),
    ("ZeroPadding1D", L("ZeroPadding1D"), SEQ),
    ("ZeroPadding2D", L("ZeroPadding2D"), IMG),
    ("ZeroPadding3D", L("ZeroPadding3D"), VOL),
    ("Cropping1D", L("Cropping1D", cropping=[1, 1]), SEQ),
    ("Cropping2D", L("Cropping2D", cropping=[[1, 1], [1, 1]]), IMG),
    ("Cropping3D", L("Cropping3D", cropping=[[1, 1], [1, 1], [1, 1]]), VOL),
    ("UpSampling1D", L("UpSampling1D"), SEQ),
    ("UpSampling2D", L("UpSampling2D"), IMG),
    ("UpSampling3D", L("UpSampling3D"), VOL),
    ("Embedding", L("Embedding", input_dim=10, output_dim=3), [[5]], True),
    ("Attention", L("Attention"), [[3, 4], [5, 4]]),
    ("AdditiveAttention", L("AdditiveAttention"), [[3, 4], [5, 4]]),
    ("MultiHeadAttention", L("MultiHeadAttention", num_heads=2, key_dim=3), [[3, 4], [5, 4]]),
    ("Rescaling", L("Rescaling", scale=0.5), VEC),
    ("Normalization", L("Normalization"), VEC),
    ("CenterCrop", L("CenterCrop", height=4, width=4), IMG),
    ("Resizing", L("Resizing", height=4, width=4), IMG),
    ("RandomFlip", L("RandomFlip"), IMG),
    ("RandomRotation", L("RandomRotation", factor=0.1), IMG),
    ("RandomTranslation", L("RandomTranslation", height_factor=0.1, width_factor=0.1), IMG),
    ("RandomZoom", L("RandomZoom", height_factor=0.1), IMG),
    ("Masking", L("Masking"), SEQ),
    ("SimpleRNN", L("SimpleRNN", units=3), SEQ),
    ("LSTM", L("LSTM", units=3, return_sequences=True), SEQ),
    ("GRU", L("GRU", units=3), SEQ),
    ("Bidirectional", L("Bidirectional", layer={"class_name": "LSTM", "config": {"units": 3}}), SEQ),
    ("TimeDistributed", L("TimeDistributed", layer={"class_name": "Dense", "config": {"units": 2}}), SEQ),
    # Non-default arguments: nested initializer, regularizer and constraint objects; renamed keys; extra inputs.
    ("Dense (regularized, constrained)", L("Dense", units=3, bias_initializer={"class_name": "Constant", "config": {"value": 0.5}},
                                           kernel_regularizer={"class_name": "L2", "config": {"l2": 0.02}},
                                           activity_regularizer={"class_name": "L1", "config": {"l1": 0.01}},
                                           kernel_constraint={"class_name": "MaxNorm", "config": {"max_value": 2.0, "axis": 0}}), VEC),
    ("Dense (other initializers, constraints)", L("Dense", units=3, kernel_initializer={"class_name": "HeNormal", "config": {"seed": 3}},
                                                  bias_initializer={"class_name": "RandomNormal", "config": {"mean": 0.1, "stddev": 0.2}},
                                                  kernel_regularizer={"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}},
                                                  kernel_constraint={"class_name": "MinMaxNorm", "config": {"min_value": 0.5, "max_value": 1.5}},
                                                  bias_constraint={"class_name": "NonNeg", "config": {}}), VEC),
    ("Conv2D (variance scaling, unit norm)", L("Conv2D", filters=2, kernel_size=[3, 3],
                                               kernel_initializer={"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"}},
                                               bias_initializer={"class_name": "TruncatedNormal", "config": {"stddev": 0.1}},
                                               kernel_constraint={"class_name": "UnitNorm", "config": {"axis": 0}}), IMG),
    ("SimpleRNN (orthogonal, lecun)", L("SimpleRNN", units=3, recurrent_initializer={"class_name": "Orthogonal", "config": {"gain": 2.0}},
                                        kernel_initializer={"class_name": "LecunUniform", "config": {}}, activation="relu"), SEQ),
    ("LeakyReLU (slope 0.2)", L("LeakyReLU", negative_slope=0.2), VEC),
    ("LSTM (initial state)", L("LSTM", units=3), [[5, 4], [3], [3]]),
    ("MultiHeadAttention (key)", L("MultiHeadAttention", num_heads=2, key_dim=3), [[3, 4], [5, 4], [5, 2]]),
    ("GRU (return_state)", L("GRU", units=3, return_state=True), SEQ),
]

MODEL_CASES = [
    {"id": "model:Sequential", "inputs": VEC,
     "sequential": [{"class_name": "Dense", "config": {"units": 8, "activation": "relu", "name": "d1"}},
                    {"class_name": "Dropout", "config": {"rate": 0.2, "name": "drop"}},
                    {"class_name": "Dense", "config": {"units": 3, "activation": "softmax", "name": "d2"}}]},
    {"id": "model:nested Sequential called twice", "inputs": VEC * 2,
     "nested_twice": [{"class_name": "Dense", "config": {"units": 3, "name": "inner_dense"}}],
     "merge": {"class_name": "Add", "config": {"name": "sum"}}},
    {"id": "model:nested functional called twice", "inputs": VEC * 2, "functional": True,
     "nested_twice": [{"class_name": "Dense", "config": {"units": 3, "activation": "tanh", "name": "inner_dense"}},
                      {"class_name": "Dense", "config": {"units": 2, "name": "inner_out"}}],
     "merge": {"class_name": "Concatenate", "config": {"name": "both"}}},
    {"id": "model:shared layer, two outputs", "inputs": VEC * 2,
     "shared": {"class_name": "Dense", "config": {"units": 3, "name": "shared"}}},
]


def import_keras():
    """The keras module and its major version, or (None, None)."""
    try:
        import keras  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means no Keras here
        return None, None
    version = int(keras.__version__.split(".")[0])
    if version < 3:
        import tensorflow as tf
        return tf.keras, 2
    return keras, 3


def with_module(spec):
    """Keras 3 finds a built-in layer by its module: {"module": "keras.layers", ...}, nested ones too."""
    config = {k: with_module(v) if k == "layer" else v for k, v in spec["config"].items()}
    return dict(spec, module="keras.layers", registered_name=None, config=config)


def keras_model_from_case(keras, case, version):
    """The case's model built in Keras from its arguments (when Keras refused Strata's config)."""
    inputs = [keras.Input(shape=s, name=f"in_{i}", dtype="int64" if case.get("int") else "float32")
              for i, s in enumerate(case["inputs"])]
    layer = keras.layers.deserialize(with_module(case["layer"]) if version == 3 else case["layer"])
    if case["layer"]["class_name"] == "MultiHeadAttention":
        out = layer(inputs[0], inputs[1], key=inputs[2] if len(inputs) > 2 else None)
    elif case["layer"]["class_name"] in ("LSTM", "GRU", "SimpleRNN") and len(inputs) > 1:
        out = layer(inputs[0], initial_state=inputs[1:])
    else:
        out = layer(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs, out, name="m")


# Keys whose value Keras resolves when the layer builds, so a config Keras writes holds the resolved form of
# what Strata wrote: the same layer either way.
RESOLVED_AT_BUILD = {
    "axis": "a negative axis becomes its positive index (-1 -> 1 for rank-2 inputs)",
    "attention_axes": "null becomes the axes between batch and features ([1] for rank-3 inputs)",
}


def config_difference(expected, got, path="config"):
    """The first place two configs differ, as 'path: expected != got'; None when they agree (floats to float32
    precision, since Keras stores float arguments as float32)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in sorted(set(expected) | set(got)):
            if key in RESOLVED_AT_BUILD and key in expected and key in got:
                continue
            diff = config_difference(expected.get(key, "<absent>"), got.get(key, "<absent>"), f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got)):
            diff = config_difference(a, b, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if abs(expected - got) <= 1e-6 * max(1.0, abs(expected)):
            return None
    if expected == got:
        return None
    return f"{path}: {json.dumps(expected)[:200]} != {json.dumps(got)[:200]}"


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dumper", required=True, help="path of keras_config_dump")
    parser.add_argument("--only", help="only the cases whose id contains this text")
    parser.add_argument("--verbose", action="store_true", help="print every failure message in full")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras, version = import_keras()
    if keras is None:
        print("SKIP: no Keras importable by", sys.executable)
        return 77
    dialect = "keras3" if version == 3 else "keras2"
    cases = [{"id": c[0], "layer": c[1], "inputs": c[2], "int": len(c) > 3} for c in CASES] + MODEL_CASES
    if args.only:
        cases = [c for c in cases if args.only in c["id"]]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: os.path.join(tmp, n + ".json") for n in ("cases", "written", "keras", "read")}
        json.dump(cases, open(paths["cases"], "w"))
        run([args.dumper, "write", paths["cases"], paths["written"]])
        written = {r["id"]: r for r in json.load(open(paths["written"]))}
        to_strata, results = [], {}
        for case in cases:
            record = written[case["id"]]
            result = results[case["id"]] = {"to_keras": None, "to_strata": None}
            if "strata_error" in record:
                result["to_keras"] = result["to_strata"] = "Strata: " + record["strata_error"]
                continue
            text = record[dialect]
            if version == 2:
                text = dict(text, keras_version="2.15.0", backend="tensorflow")
            try:
                model = keras.models.model_from_json(json.dumps(text))
                result["to_keras"] = "ok"
            except Exception as e:  # noqa: BLE001 - report whatever Keras says
                result["to_keras"] = f"{type(e).__name__}: {e}"
                model = None
                if "layer" in case:
                    try:
                        model = keras_model_from_case(keras, case, version)
                    except Exception as e2:  # noqa: BLE001
                        result["to_strata"] = f"(Keras cannot build it either: {type(e2).__name__}: {e2})"
            if model is not None:
                to_strata.append({"id": case["id"], "json": model.to_json()})
        json.dump(to_strata, open(paths["keras"], "w"))
        run([args.dumper, "read", paths["keras"], paths["read"]])
        for record in json.load(open(paths["read"])):
            result = results[record["id"]]
            if "strata_error" in record:
                result["to_strata"] = "Strata: " + record["strata_error"]
            elif record["summary"] != written[record["id"]]["summary"]:
                result["to_strata"] = "summary differs:\n" + record["summary"] + "\nexpected:\n" + written[record["id"]]["summary"]
            elif config_difference(written[record["id"]]["keras2"], record["keras2"]):
                result["to_strata"] = "config differs: " + config_difference(written[record["id"]]["keras2"], record["keras2"])
            else:
                result["to_strata"] = "ok"

    import keras as keras_package
    name = f"Keras {keras_package.__version__}" if version == 3 else f"tf.keras {keras_package.__version__}"
    print(f"{'case':40s} Strata->{name:22s} {name}->Strata")
    failed = 0
    for case_id, result in results.items():
        ok = [result[k] == "ok" for k in ("to_keras", "to_strata")]
        failed += not all(ok)
        print(f"{case_id:40s} {'pass' if ok[0] else 'FAIL':30s} {'pass' if ok[1] else 'FAIL'}")
        for key, passed in zip(("to_keras", "to_strata"), ok):
            if not passed:
                message = str(result[key])
                print("    " + key + ": " + (message if args.verbose else message.splitlines()[0][:300]))
    print(f"{len(results) - failed}/{len(results)} cases pass both ways")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
