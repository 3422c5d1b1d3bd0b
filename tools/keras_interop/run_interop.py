#!/usr/bin/env python3
"""Interoperability of Strata's saved models with real Python Keras 3, in both directions.

Strata -> Keras: keras_interop_driver writes each case's model (model.keras, model.h5, model.weights.h5,
legacy_weights.h5, model.json) with its inputs and predictions; here Keras loads every file
(keras.models.load_model; model_from_json + load_weights; load_weights into the same model built in Keras)
and its predictions must equal Strata's within 1e-5, with the same layer classes and names; a model
loaded from a whole-model file must also come back compiled with Adam's state after its one step.
Keras -> Strata: the same architectures are built here in Keras, their weights and Adam's state set, and saved the same ways; the
driver loads them in Strata and compares.

Keras runs with the numpy backend (h5py, numpy, scipy and jax are all it needs) from the virtual environment
tools/setup_keras_venv.sh creates; without it, or without Keras 3 there, this exits 77 (CTest: skipped).

Usage: run_interop.py --python VENV_PYTHON --driver keras_interop_driver --work DIR
"""

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings

SKIPPED = 77
TOLERANCE = 1e-5
CHILD_FLAG = "STRATA_KERAS_INTEROP_CHILD"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Python that has Keras 3 (the venv's)")
    parser.add_argument("--driver", required=True, help="the keras_interop_driver executable")
    parser.add_argument("--work", required=True, help="scratch directory (emptied first)")
    return parser.parse_args()


def reexec_in_venv(args):
    """CTest starts this with the system Python; the checks run under the venv's, with the numpy backend."""
    if os.environ.get(CHILD_FLAG):
        return
    if not os.path.exists(args.python):
        print(f"SKIPPED: no Python with Keras at {args.python}; run tools/setup_keras_venv.sh "
              "(or configure with -DSTRATA_KERAS_PYTHON=...)")
        sys.exit(SKIPPED)
    env = dict(os.environ, KERAS_BACKEND="numpy", **{CHILD_FLAG: "1"})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.execve(args.python, [args.python, os.path.abspath(__file__)] + sys.argv[1:], env)


def import_keras():
    try:
        import h5py  # noqa: F401
        import keras
        import numpy  # noqa: F401
    except Exception as error:  # an ImportError, or a backend that fails to initialise
        print(f"SKIPPED: Keras 3 with the numpy backend is not importable here ({type(error).__name__}: {error})")
        sys.exit(SKIPPED)
    if not keras.__version__.startswith("3."):
        print(f"SKIPPED: found Keras {keras.__version__}, these checks need Keras 3")
        sys.exit(SKIPPED)
    return keras


# The same architectures, with the same names, as the cases in interop_driver.cpp.
def keras_cases(keras, np):
    L = keras.layers

    def normal(*shapes):
        return lambda rng: [rng.standard_normal((4,) + shape).astype("float32") for shape in shapes]

    def dense():
        return keras.Sequential([keras.Input((6,), name="x"), L.Dense(8, activation="relu", name="hidden"),
                                 L.Dense(3, activation="softmax", name="probs")], name="mlp")

    def conv_bn():
        return keras.Sequential([keras.Input((8, 8, 3), name="image"),
                                 L.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
                                 L.BatchNormalization(name="bn"), L.Conv2D(2, 3, strides=2, name="conv2"),
                                 L.Flatten(name="flat"), L.Dense(3, name="logits")], name="convnet")

    def lstm():
        return keras.Sequential([keras.Input((5, 4), name="seq"), L.LSTM(6, return_sequences=True, name="lstm1"),
                                 L.LSTM(3, name="lstm2")], name="lstm_stack")

    def gru():
        return keras.Sequential([keras.Input((5, 4), name="seq"), L.GRU(6, name="gru1"), L.Dense(2, name="head")],
                                name="gru_net")

    def embedding():
        return keras.Sequential([keras.Input((7,), dtype="int32", name="tokens"), L.Embedding(20, 4, name="embed"),
                                 L.GlobalAveragePooling1D(name="pool"), L.Dense(2, name="head")], name="embed_net")

    def two_inputs_merge():
        a = keras.Input((6,), name="a")
        b = keras.Input((4,), name="b")
        ha = L.Dense(5, activation="tanh", name="dense_a")(a)
        hb = L.Dense(5, name="dense_b")(b)
        total = L.Add(name="sum")([ha, hb])
        joined = L.Concatenate(axis=-1, name="joined")([total, a])
        return keras.Model([a, b], L.Dense(3, name="out")(joined), name="two_inputs")

    def nested():
        inner = keras.Sequential([keras.Input((6,), name="inner_in"), L.Dense(5, activation="relu", name="inner_dense"),
                                  L.BatchNormalization(name="inner_bn")], name="inner")
        x = keras.Input((6,), name="x")
        return keras.Model(x, L.Dense(2, name="head")(inner(x)), name="outer")

    return [
        ("dense", dense, normal((6,))),
        ("conv_bn", conv_bn, normal((8, 8, 3))),
        ("lstm", lstm, normal((5, 4))),
        ("gru", gru, normal((5, 4))),
        ("embedding", embedding, lambda rng: [rng.integers(0, 20, (4, 7)).astype("int32")]),
        ("two_inputs_merge", two_inputs_merge, normal((6,), (4,))),
        ("nested", nested, normal((6,))),
    ]


# Failures that are Keras' own, verified by hand: (direction, case, check) -> (text the error must contain, why).
# Such a row shows KNOWN when it fails with that error, PASS when it passes; any other error is a FAIL.
KNOWN_KERAS_LIMITATIONS = {
    ("Strata -> Keras", "nested", "load_model(.h5)"): (
        "has loops or disconnected nodes",
        "Keras 3.15 cannot read tf.keras 2's legacy config of a model that calls a Sequential built on an Input: "
        "tf.keras numbers that call node 1 (node 0 is the Sequential's own), Keras 3 does not skip node 0. "
        "tf.keras 2.15 writes and reads the same config, and tf.keras 2.15's own .h5 of this model fails in "
        "Keras 3 the same way."),
}


def layer_list(model):
    return [[type(layer).__name__, layer.name] for layer in model.layers if type(layer).__name__ != "InputLayer"]


def predict(model, xs):
    return model.predict(xs if len(xs) > 1 else xs[0], verbose=0, batch_size=64)


def compare(model, xs, expected, expected_layers, np):
    """None when the predictions and layers match, else what differs; also the largest difference."""
    got = np.asarray(predict(model, xs))
    if got.shape != expected.shape:
        return f"prediction shape {got.shape} differs from {expected.shape}", None
    difference = float(np.max(np.abs(got.astype("float64") - expected.astype("float64"))))
    problems = []
    if not difference <= TOLERANCE:
        problems.append(f"predictions differ by {difference:.3g}")
    layers = layer_list(model)
    if layers != expected_layers:
        problems.append(f"layers {layers} differ from {expected_layers}")
    return ("; ".join(problems) or None), difference


def optimizer_slots(model):
    """Adam's slot variables (momentum, velocity per trainable weight) in Keras' order."""
    return [variable for variable in model.optimizer.variables if variable.name not in ("iteration", "learning_rate")]


def optimizer_problem(model, directory, slot_count, np, slots_restored=True):
    """Why a model loaded with its compile configuration lacks the saved state of one Adam step, or None.
    Keras 3.15's legacy .h5 loader builds the optimizer on model._trainable_variables (a model's own, none for
    Sequential and functional models) and so never restores the slots, not even from its own files: for .h5
    files Keras loads, slots_restored=False leaves them out."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return "loaded model is not compiled"
    if type(optimizer).__name__ != "Adam":
        return f"optimizer is {type(optimizer).__name__}, expected Adam"
    if int(np.asarray(optimizer.iterations)) != 1:
        return f"optimizer iterations {int(np.asarray(optimizer.iterations))}, expected 1"
    if not slots_restored:
        return None
    slots = optimizer_slots(model)
    if len(slots) != slot_count:
        return f"optimizer has {len(slots)} slot variables, the saver {slot_count}"
    for i, slot in enumerate(slots):
        expected = np.load(os.path.join(directory, f"o{i}.npy"))
        got = np.asarray(slot)
        if got.shape != expected.shape or not np.max(np.abs(got - expected), initial=0.0) <= 1e-7:
            return f"optimizer slot {i} ({slot.name}) differs from the saver's"
    return None


def perturb_weights(model, rng):
    """Every weight moved off its initial value (biases off zero), BatchNormalization's moving statistics
    included, so a loader that skips or misplaces a weight cannot pass by accident."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            perturb_weights(layer, rng)
        elif type(layer).__name__ == "BatchNormalization":
            c = layer.get_weights()[0].shape[0]
            layer.set_weights([(rng.random(c) + 0.5).astype("float32"), (rng.standard_normal(c) * 0.3).astype("float32"),
                               (rng.standard_normal(c) * 0.5).astype("float32"), (rng.random(c) + 0.5).astype("float32")])
        elif layer.get_weights():
            layer.set_weights([w + (0.1 * rng.standard_normal(w.shape)).astype(w.dtype) for w in layer.get_weights()])


def fake_optimizer_step(model, rng):
    """The numpy backend cannot train, so Adam's state is set as if it had taken a step: the whole-model
    files then carry a compile configuration and a non-trivial optimizer state."""
    model.optimizer.build(model.trainable_variables)
    for variable in model.optimizer.variables:
        if variable.name == "iteration":
            variable.assign(1)
        elif variable.name != "learning_rate":
            variable.assign((0.01 * abs(rng.standard_normal(variable.shape))).astype(variable.dtype))


def check_strata_files(keras, np, builders, strata_dir):
    """Strata -> Keras: one row per (case, way of loading)."""
    rows = []
    for case in sorted(os.listdir(strata_dir)):
        directory = os.path.join(strata_dir, case)
        meta = json.load(open(os.path.join(directory, "meta.json")))
        errors = meta.get("errors", {})

        def path(name):
            return os.path.join(directory, name)

        def legacy_weights(model):
            model.load_weights(path("legacy_weights.h5"))
            return model

        def weights(model):
            model.load_weights(path("model.weights.h5"))
            return model

        def from_json():
            return keras.models.model_from_json(open(path("model.json")).read())

        def set_weights(model):
            model.set_weights([np.load(path(f"w{i}.npy")) for i in range(meta["weights"])])
            return model

        checks = [
            # The baseline, no file involved: Strata's get_weights() into the Keras-built model. When only this
            # fails, the layers compute differently; when only the others fail, the files are at fault.
            ("Keras-built + set_weights(get_weights)", [], lambda: set_weights(builders[case]())),
            ("load_model(.keras)", ["model.keras"], lambda: keras.models.load_model(path("model.keras"))),
            ("load_model(.h5)", ["model.h5"], lambda: keras.models.load_model(path("model.h5"))),
            ("model_from_json + load_weights(.weights.h5)", ["model.json", "model.weights.h5"],
             lambda: weights(from_json())),
            ("model_from_json + load_weights(legacy .h5)", ["model.json", "legacy_weights.h5"],
             lambda: legacy_weights(from_json())),
            ("Keras-built + load_weights(.weights.h5)", ["model.weights.h5"], lambda: weights(builders[case]())),
            ("Keras-built + load_weights(legacy .h5)", ["legacy_weights.h5"], lambda: legacy_weights(builders[case]())),
        ]
        for check, needs, load in checks:
            row = {"direction": "Strata -> Keras", "case": case, "check": check, "ok": False}
            missing = [f"Strata could not write {name}: {errors[name]}" for name in ["build"] + needs if name in errors]
            if missing:
                row["error"] = "; ".join(missing)
            else:
                try:
                    xs = [np.load(path(f"x{i}.npy")) for i in range(meta["inputs"])]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = load()
                    problem, difference = compare(model, xs, np.load(path("y.npy")), meta["layers"], np)
                    if check.startswith("load_model"):
                        optimizer = optimizer_problem(model, directory, meta["optimizer_slots"], np,
                                                      slots_restored=check.endswith("(.keras)"))
                        problem = "; ".join(p for p in (problem, optimizer) if p) or None
                    row.update(ok=problem is None, max_abs_diff=difference)
                    if problem:
                        row["error"] = problem
                except Exception as error:
                    row["error"] = f"{type(error).__name__}: {error}"
            known = KNOWN_KERAS_LIMITATIONS.get((row["direction"], case, check))
            if not row["ok"] and known and known[0] in row.get("error", ""):
                row.update(known=True, error=f"known Keras limitation: {known[1]}")
            rows.append(row)
    return rows


def write_keras_files(keras, np, cases, keras_dir):
    """Keras -> Strata, first half: each case built, its weights and optimizer state set, and saved the ways
    Strata must read."""
    from keras.src.legacy.saving import legacy_h5_format
    import h5py

    for seed, (case, build, make_inputs) in enumerate(cases, start=2000):
        directory = os.path.join(keras_dir, case)
        os.makedirs(directory)
        meta = {"id": case, "errors": {}}
        try:
            keras.utils.set_random_seed(seed)
            rng = np.random.default_rng(seed)
            model = build()
            xs = make_inputs(rng)
            perturb_weights(model, rng)
            # A loss object: Keras 3.15 cannot load a legacy .h5 whose loss is the string "mse" (see the driver).
            model.compile(optimizer="adam", loss=keras.losses.MeanSquaredError())
            fake_optimizer_step(model, rng)
            for i, x in enumerate(xs):
                np.save(os.path.join(directory, f"x{i}.npy"), x)
            np.save(os.path.join(directory, "y.npy"), np.asarray(predict(model, xs)))
            weights = model.get_weights()
            for i, w in enumerate(weights):
                np.save(os.path.join(directory, f"w{i}.npy"), w)
            slots = optimizer_slots(model)
            for i, slot in enumerate(slots):
                np.save(os.path.join(directory, f"o{i}.npy"), np.asarray(slot))
            meta.update(inputs=len(xs), weights=len(weights), optimizer_slots=len(slots), layers=layer_list(model))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.save(os.path.join(directory, "model.keras"))
                model.save(os.path.join(directory, "model.h5"))
            model.save_weights(os.path.join(directory, "model.weights.h5"))
            with h5py.File(os.path.join(directory, "legacy_weights.h5"), "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
            with open(os.path.join(directory, "model.json"), "w") as f:
                f.write(model.to_json())
        except Exception as error:
            meta["errors"]["build"] = f"{type(error).__name__}: {error}"
        json.dump(meta, open(os.path.join(directory, "meta.json"), "w"))


def run_driver(args, *driver_args):
    """The driver's output, or a FAIL row when it crashed."""
    try:
        done = subprocess.run([args.driver, *driver_args], capture_output=True, text=True, timeout=240)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"keras_interop_driver {driver_args[0]} did not run: {error}"
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        return f"keras_interop_driver {driver_args[0]} exited with {done.returncode}: {tail}"
    return None


def result(row):
    return "PASS" if row["ok"] else "KNOWN" if row.get("known") else "FAIL"


def print_table(rows):
    width_case = max(len(r["case"]) for r in rows)
    width_check = max(len(r["check"]) for r in rows)
    print(f"{'direction':<16} {'case':<{width_case}} {'check':<{width_check}} result  max|diff|")
    for r in rows:
        difference = r.get("max_abs_diff")
        shown = f"{difference:.2e}" if difference is not None else "-"
        print(f"{r['direction']:<16} {r['case']:<{width_case}} {r['check']:<{width_check}} "
              f"{result(r):<7} {shown}")
    for title, kind in (("Known Keras limitations", "KNOWN"), ("Failures", "FAIL")):
        listed = [r for r in rows if result(r) == kind]
        if listed:
            print(f"\n{title}:")
            for r in listed:
                print(f"- {r['direction']} / {r['case']} / {r['check']}: {r.get('error', '?')}")


def main():
    args = parse_args()
    reexec_in_venv(args)
    warnings.filterwarnings("ignore")
    logging.getLogger("absl").setLevel(logging.ERROR)  # Keras' "HDF5 is a legacy format" on every .h5 save
    keras = import_keras()
    import numpy as np

    started = time.time()
    print(f"Keras {keras.__version__} (backend {keras.backend.backend()}), numpy {np.__version__}")
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    strata_dir, keras_dir = os.path.join(work, "strata"), os.path.join(work, "keras")
    os.makedirs(strata_dir)
    os.makedirs(keras_dir)
    cases = keras_cases(keras, np)
    builders = {case: build for case, build, _ in cases}
    rows = []

    crash = run_driver(args, "export", strata_dir)
    if crash:
        rows.append({"direction": "Strata -> Keras", "case": "*", "check": "driver export", "ok": False, "error": crash})
    else:
        rows += check_strata_files(keras, np, builders, strata_dir)

    write_keras_files(keras, np, cases, keras_dir)
    results = os.path.join(work, "keras_to_strata.json")
    crash = run_driver(args, "import", keras_dir, results)
    if crash:
        rows.append({"direction": "Keras -> Strata", "case": "*", "check": "driver import", "ok": False, "error": crash})
    else:
        for r in json.load(open(results)):
            rows.append(dict(r, direction="Keras -> Strata"))

    print_table(rows)
    passed = sum(r["ok"] for r in rows)
    known = sum(result(r) == "KNOWN" for r in rows)
    print(f"\n{passed}/{len(rows)} checks passed, {known} known Keras limitations, "
          f"{len(rows) - passed - known} failed, in {time.time() - started:.1f} s (files under {work})")
    return 0 if passed + known == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
