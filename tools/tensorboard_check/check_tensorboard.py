#!/usr/bin/env python3
"""Reads the event files Strata's TensorBoard callback writes with TensorBoard's own loader.

Runs the hidden Catch2 case "[.tensorboard_export]" (a short fit with histograms, images, batch scalars and
validation) into a scratch directory, then loads `train` and `validation` with TensorBoard's
plugin_event_accumulator (what `tensorboard --load_fast=false` serves from) and checks the scalars against
History, the histograms against the final weights, the images, and the Keras conceptual graph as the graphs
plugin converts it. Exits 77 (CTest: skipped) when the `tensorboard` package is not importable.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys


def fail(message):
    print("check_tensorboard: FAIL: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", required=True, help="the strata_tests executable")
    parser.add_argument("--work", required=True, help="scratch directory for the logs")
    args = parser.parse_args()
    try:
        import numpy as np
        from tensorboard.backend.event_processing import plugin_event_accumulator as pea
        from tensorboard.plugins.graph import keras_util
        from tensorboard.util import tensor_util
    except Exception as error:  # noqa: BLE001 - any import failure means TensorBoard is unusable here
        print("check_tensorboard: SKIP: tensorboard is not importable (%s)" % error)
        sys.exit(77)

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    env = dict(os.environ, STRATA_TB_EXPORT_DIR=args.work, OMP_NUM_THREADS="1")
    subprocess.run([args.tests, "[.tensorboard_export]"], env=env, check=True)
    with open(os.path.join(args.work, "expected.json")) as f:
        expected = json.load(f)
    history = expected["history"]
    epochs = len(history["loss"])

    def load(run):
        acc = pea.EventAccumulator(os.path.join(args.work, run), size_guidance={"tensors": 0})
        acc.Reload()
        return acc

    train, validation = load("train"), load("validation")

    def series(acc, tag):
        return {e.step: tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors(tag)}

    # Scalars: what the scalars dashboard lists, in both runs under the same tags.
    train_scalars = set(train.PluginTagToContent("scalars"))
    val_scalars = set(validation.PluginTagToContent("scalars"))
    for key, values in history.items():
        acc, tag = (validation, "epoch_" + key[4:]) if key.startswith("val_") else (train, "epoch_" + key)
        if tag not in (val_scalars if acc is validation else train_scalars):
            fail("scalar tag %s missing for history key %s" % (tag, key))
        got = series(acc, tag)
        if sorted(got) != list(range(epochs)):
            fail("%s steps %s, expected 0..%d" % (tag, sorted(got), epochs - 1))
        for step, value in got.items():
            if value.shape != () or value.dtype != np.float32 or value != np.float32(values[step]):
                fail("%s at step %d is %r, History has %r" % (tag, step, value, values[step]))
    if "epoch_learning_rate" not in train_scalars:
        fail("epoch_learning_rate missing")
    if not np.isclose(series(train, "epoch_learning_rate")[0], 0.001):
        fail("epoch_learning_rate is not Adam's 0.001")
    batch_steps = sorted(series(train, "batch_loss"))
    iterations = expected["iterations"]
    if batch_steps != list(range(3, iterations + 1, 3)):
        fail("batch_loss steps %s, expected every 3rd of %d" % (batch_steps, iterations))
    evaluation = series(validation, "evaluation_loss_vs_iterations")
    if max(evaluation) != iterations or not np.isclose(evaluation[iterations], history["val_loss"][-1]):
        fail("evaluation_loss_vs_iterations does not end at %d with val_loss" % iterations)

    # Histograms: [k, 3] rows whose counts add up to the weight's size, the last one spanning the final kernel.
    histogram_tags = set(train.PluginTagToContent("histograms"))
    wanted = {"hidden/kernel/histogram", "hidden/bias/histogram", "out/kernel/histogram", "out/bias/histogram"}
    if histogram_tags != wanted:
        fail("histogram tags %s, expected %s" % (sorted(histogram_tags), sorted(wanted)))
    kernel = np.array(expected["kernel"])
    last = series(train, "hidden/kernel/histogram")[epochs - 1]
    if last.shape != (30, 3) or last[:, 2].sum() != kernel.size:
        fail("hidden/kernel histogram has shape %s and %s values" % (last.shape, last[:, 2].sum()))
    if last[0, 0] != kernel.min() or last[-1, 1] != kernel.max():
        fail("hidden/kernel histogram spans [%r, %r], kernel [%r, %r]" % (last[0, 0], last[-1, 1], kernel.min(), kernel.max()))

    # Images: [width, height, png] blobs, 5x6 for the [6, 5] kernel.
    image = series(train, "hidden/kernel/image")[0]
    if image[0] != b"6" or image[1] != b"5" or not image[2].startswith(b"\x89PNG"):
        fail("hidden/kernel/image is %r" % (image[:2],))

    # The conceptual graph, as the graphs plugin builds it.
    content = train.PluginTagToContent("graph_keras_model")
    if content.get("keras") != b"1":
        fail("graph_keras_model tag 'keras' with content b'1' missing: %r" % content)
    model_json = series(train, "keras")[0].item()
    graph = keras_util.keras_model_to_graph_def(json.loads(model_json))
    nodes = {node.name: node for node in graph.node}
    for name, cls in (("classifier/hidden", "Dense"), ("classifier/out", "Dense")):
        if name not in nodes or nodes[name].attr["keras_class"].s != cls.encode():
            fail("graph node %s (%s) missing; nodes: %s" % (name, cls, sorted(nodes)))
    if "classifier/hidden" not in nodes["classifier/out"].input:
        fail("classifier/out is not fed by classifier/hidden: %s" % list(nodes["classifier/out"].input))
    print("check_tensorboard: OK: %d scalar tags, %d histogram tags, graph nodes %s"
          % (len(train_scalars) + len(val_scalars), len(histogram_tags), sorted(nodes)))


if __name__ == "__main__":
    main()
