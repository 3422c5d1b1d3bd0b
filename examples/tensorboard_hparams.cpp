// Tunes three hyperparameters of the Fashion-MNIST MLP with TensorBoard's HParams dashboard, like TensorFlow's
// "Hyperparameter Tuning with the HParams Dashboard" tutorial:
//   Input(28, 28) -> Flatten -> Dense(num_units, relu) -> Dropout(dropout) -> Dense(10)
// for num_units {64, 128} x dropout {0.1, 0.3} x optimizer {adam, sgd}, 8 trials. Each trial's fit logs its
// curves, model summary, command line and hparams under logs/hparam_tuning/run-<N>; the program then prints
// a results table and the `tensorboard --logdir` command that shows them (HParams tab: table, parallel
// coordinates, scatter plots). `--smoke` runs 2 trials on a small subset for one epoch (CI).
// Options: --epochs N, --batch-size N, --data DIR, --threads N, --smoke.

#include <filesystem>

#include "example_cli.h"

int main(int argc, char** argv) {
  using namespace strata;
  return examples::run([&] {
    const examples::Args args = examples::parse_args(argc, argv, /*default_epochs=*/5);
    const auto data = examples::load_data(args, {.train = 512, .test = 256});
    const std::string log_dir = "logs/hparam_tuning";
    std::filesystem::remove_all(log_dir);  // a rerun starts a fresh experiment rather than adding duplicate sessions

    const std::vector<hparams::HParam> space = {
        {"num_units", hparams::Discrete{{64.0, 128.0}}},
        {"dropout", hparams::Discrete{{0.1, 0.3}}},
        {"optimizer", hparams::Discrete{{std::string("adam"), std::string("sgd")}}},
    };
    const std::vector<hparams::Metric> metrics = {
        {.tag = "epoch_accuracy", .group = "validation", .display_name = "Accuracy (val)",
         .dataset_type = hparams::DatasetType::Validation},
        {.tag = "epoch_loss", .group = "validation", .display_name = "Loss (val)",
         .dataset_type = hparams::DatasetType::Validation},
    };
    const auto results = hparams::run_trials(
        log_dir, space, metrics,
        {.max_trials = args.smoke ? 2 : 0, .command_line = std::vector<std::string>(argv, argv + argc)},
        [&](hparams::Trial& trial) {
          Sequential model({
              layers::Input({28, 28}),
              layers::Flatten(),
              layers::Dense(static_cast<int64_t>(trial.number("num_units")), {.activation = "relu"}),
              layers::Dropout(trial.number("dropout")),
              layers::Dense(10),
          });
          model.compile({
              .optimizer = trial.string("optimizer"),
              .loss = losses::SparseCategoricalCrossentropy({.from_logits = true}),
              .metrics = {"accuracy"},
          });
          // The test set doubles as validation data: it is only watched, never trained on.
          model.fit(data.x_train, data.y_train,
                    {.batch_size = args.batch_size,
                     .epochs = args.epochs,
                     .verbose = 2,
                     .callbacks = trial.callbacks(),
                     .validation_data = {data.x_test, data.y_test}});
          return model.evaluate(data.x_test, data.y_test, {.batch_size = 512, .verbose = 0});
        });

    std::printf("\n%-5s %9s %7s %9s %8s %8s\n", "run", "num_units", "dropout", "optimizer", "loss", "accuracy");
    for (const auto& [trial, logs] : results)
      std::printf("%-5s %9.0f %7.2f %9s %8.4f %8.4f\n", ("run-" + std::to_string(trial.index)).c_str(),
                  trial.number("num_units"), trial.number("dropout"), trial.string("optimizer").c_str(),
                  logs.at("loss"), logs.at("accuracy"));
    std::printf("\nView the runs in TensorBoard's HParams tab:\n  tensorboard --logdir %s\n",
                std::filesystem::absolute(log_dir).c_str());
  });
}
