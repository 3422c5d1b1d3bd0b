#include <strata/callbacks/callback.h>
#include <strata/models/model.h>

namespace strata {

CallbackList::CallbackList(std::vector<std::shared_ptr<Callback>> callbacks, Model* model,
                           const TrainingParams& params)
    : callbacks_(std::move(callbacks)) {
  // Every worker asks for batch logs when the chief does: reading them sums the metrics across the workers,
  // a collective all of them must join.
  for (const auto& callback : callbacks_) needs_batch_logs_ = needs_batch_logs_ || callback->needs_batch_logs();
  if (model && !model->distribute_strategy().is_chief()) {
    const bool copy = model->distribute_strategy().is_model_copy();
    std::erase_if(callbacks_, [&](const auto& callback) { return callback->chief_only() || copy; });
  }
  for (auto& callback : callbacks_) {
    callback->set_model(model);
    callback->set_params(params);
  }
}

// Each hook forwards to every callback; the macros keep the other thirteen forwarders from drifting apart.
#define STRATA_FORWARD_LOGS(hook) \
  void CallbackList::hook(const Logs& logs) { \
    for (auto& callback : callbacks_) callback->hook(logs); \
  }
// Keras' epoch-end logs are one dict the callbacks share: what one adds (ReduceLROnPlateau's learning_rate) the
// later ones (History, the progress bar, CSVLogger) see.
void CallbackList::on_epoch_end(int epoch, Logs& logs) {
  for (auto& callback : callbacks_) callback->on_epoch_end(epoch, logs);
}

#define STRATA_FORWARD_INDEXED(hook, Index) \
  void CallbackList::hook(Index index, const Logs& logs) { \
    for (auto& callback : callbacks_) callback->hook(index, logs); \
  }

STRATA_FORWARD_LOGS(on_train_begin)
STRATA_FORWARD_LOGS(on_train_end)
STRATA_FORWARD_INDEXED(on_epoch_begin, int)
STRATA_FORWARD_INDEXED(on_train_batch_begin, int64_t)
STRATA_FORWARD_INDEXED(on_train_batch_end, int64_t)
STRATA_FORWARD_LOGS(on_test_begin)
STRATA_FORWARD_LOGS(on_test_end)
STRATA_FORWARD_INDEXED(on_test_batch_begin, int64_t)
STRATA_FORWARD_INDEXED(on_test_batch_end, int64_t)
STRATA_FORWARD_LOGS(on_predict_begin)
STRATA_FORWARD_LOGS(on_predict_end)
STRATA_FORWARD_INDEXED(on_predict_batch_begin, int64_t)
STRATA_FORWARD_INDEXED(on_predict_batch_end, int64_t)

#undef STRATA_FORWARD_LOGS
#undef STRATA_FORWARD_INDEXED

}  // namespace strata
