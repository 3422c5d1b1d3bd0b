#!/usr/bin/env python3
"""Reads an HParams experiment Strata wrote with TensorBoard's own hparams plugin backend.

Runs the hidden Catch2 case "[.tensorboard_hparams_export]" (run_trials over units x optimizer, four tiny fits
with the TensorBoard and hparams callbacks) into a scratch directory, loads the directory with TensorBoard's
event multiplexer and data provider, and asks the hparams plugin's handlers what the dashboard asks
(GetExperiment, ListSessionGroups): the declared hparams and metrics, one session group per trial named as
Python's hp.KerasCallback names it, the trial's values, a successful session in run-<N>, and metric values equal
to the last logged val accuracy and train loss. Exits 77 (CTest: skipped) when `tensorboard` is not importable.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys


def fail(message):
    print("check_tensorboard_hparams: FAIL: " + message)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", required=True, help="the strata_tests executable")
    parser.add_argument("--work", required=True, help="scratch directory for the logs")
    args = parser.parse_args()
    try:
        import numpy as np
        from tensorboard import context as tb_context
        from tensorboard.backend.event_processing import data_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer
        from tensorboard.plugins import base_plugin
        from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups
    except Exception as error:  # noqa: BLE001 - any import failure means TensorBoard is unusable here
        print("check_tensorboard_hparams: SKIP: tensorboard is not importable (%s)" % error)
        sys.exit(77)

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    env = dict(os.environ, STRATA_TB_EXPORT_DIR=args.work, OMP_NUM_THREADS="1")
    subprocess.run([args.tests, "[.tensorboard_hparams_export]"], env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(args.work, "expected.json")) as f:
        expected = json.load(f)

    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={"hparams": 0})
    multiplexer.AddRunsFromDirectory(args.work)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, args.work)
    context = backend_context.Context(
        base_plugin.TBContext(logdir=args.work, data_provider=provider, multiplexer=multiplexer))
    request_context = tb_context.RequestContext()

    # The experiment as written by write_experiment (tag _hparams_/experiment in the top-level run ".").
    experiment = get_experiment.Handler(request_context, context, "", api_pb2.GetExperimentRequest()).run()
    infos = {info.name: info for info in experiment.hparam_infos}
    if sorted(infos) != ["optimizer", "units"]:
        fail("hparam_infos %s" % sorted(infos))
    if infos["units"].type != api_pb2.DATA_TYPE_FLOAT64 or [v.number_value for v in infos["units"].domain_discrete.values] != [4, 8]:
        fail("units info %s" % infos["units"])
    optimizer = infos["optimizer"]
    if (optimizer.type != api_pb2.DATA_TYPE_STRING or optimizer.display_name != "Optimizer"
            or [v.string_value for v in optimizer.domain_discrete.values] != ["adam", "sgd"]):
        fail("optimizer info %s" % optimizer)
    metrics = [(m.name.group, m.name.tag, m.dataset_type) for m in experiment.metric_infos]
    if metrics != [("validation", "epoch_accuracy", api_pb2.DATASET_VALIDATION),
                   ("train", "epoch_loss", api_pb2.DATASET_TRAINING)]:
        fail("metric_infos %s" % metrics)

    # One session group per trial, as the table, parallel coordinates and scatter views list them.
    # The dashboard asks for every status; a session whose status is not listed is left out.
    statuses = [api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING]
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100, allowed_statuses=statuses)
    response = list_session_groups.Handler(request_context, context, "", request).run()
    groups = {group.name: group for group in response.session_groups}
    if response.total_size != len(expected) or len(groups) != len(expected):
        fail("%d session groups (%s), expected %d" % (response.total_size, sorted(groups), len(expected)))
    for trial in expected:
        values = {"units": int(trial["units"]), "optimizer": trial["optimizer"]}
        name = hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        if name not in groups:
            fail("no session group %s for %s" % (name, values))
        group = groups[name]
        if group.hparams["units"].number_value != trial["units"] or group.hparams["optimizer"].string_value != trial["optimizer"]:
            fail("group %s hparams %s" % (name, dict(group.hparams)))
        if len(group.sessions) != 1 or group.sessions[0].name != trial["run"]:
            fail("group %s sessions %s, expected run %s" % (name, [s.name for s in group.sessions], trial["run"]))
        if group.sessions[0].status != api_pb2.STATUS_SUCCESS:
            fail("session %s status %s" % (trial["run"], group.sessions[0].status))
        got = {(m.name.group, m.name.tag): m.value for m in group.metric_values}
        for key, want in ((("validation", "epoch_accuracy"), trial["val_accuracy"]), (("train", "epoch_loss"), trial["loss"])):
            if key not in got or got[key] != float(np.float32(want)):
                fail("session %s metric %s is %s, the last logged value was %r" % (trial["run"], key, got.get(key), want))
    print("check_tensorboard_hparams: OK: %d hparams, %d metrics, %d session groups %s"
          % (len(infos), len(metrics), len(groups),
             [(t["run"], int(t["units"]), t["optimizer"], round(t["val_accuracy"], 4)) for t in expected]))


if __name__ == "__main__":
    main()
