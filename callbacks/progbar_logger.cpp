#include <strata/callbacks/progbar_logger.h>

#include <unistd.h>

namespace strata::callbacks {

bool ProgbarLogger::needs_batch_logs() const {
  // Only a live bar on a terminal shows per-batch values; otherwise epoch-end logs suffice.
  return params().verbose == 1 && out_ == &std::cout && isatty(STDOUT_FILENO);
}

void ProgbarLogger::start(int64_t steps) {
  progbar_ = std::make_unique<Progbar>(steps >= 0 ? steps : learned_steps_, params().verbose, *out_);
  seen_ = 0;
}

void ProgbarLogger::step(int64_t batch, const Logs& logs) {
  seen_ = batch + 1;
  if (progbar_) progbar_->update(seen_, logs);
}

void ProgbarLogger::finish(const Logs& logs) {
  // As Keras: a pass of unknown length ends with its count as the target, and later epochs use it.
  if (params().steps < 0 && progbar_) {
    learned_steps_ = seen_;
    progbar_->set_target(seen_);
  }
  if (progbar_) progbar_->update(seen_, logs, true);
  progbar_.reset();
}

void ProgbarLogger::on_epoch_begin(int epoch, const Logs& logs) {
  if (params().verbose != 0) *out_ << "Epoch " << epoch + 1 << "/" << params().epochs << '\n' << std::flush;
  start(params().steps);
}

void ProgbarLogger::on_train_batch_end(int64_t batch, const Logs& logs) { step(batch, logs); }

void ProgbarLogger::on_epoch_end(int epoch, Logs& logs) { finish(logs); }

void ProgbarLogger::on_test_begin(const Logs& logs) {
  if (!in_fit_) start(params().steps);
}

void ProgbarLogger::on_test_batch_end(int64_t batch, const Logs& logs) {
  if (!in_fit_) step(batch, logs);
}

void ProgbarLogger::on_test_end(const Logs& logs) {
  if (!in_fit_) finish(logs);
}

void ProgbarLogger::on_predict_begin(const Logs& logs) { start(params().steps); }

void ProgbarLogger::on_predict_batch_end(int64_t batch, const Logs& logs) { step(batch, logs); }

void ProgbarLogger::on_predict_end(const Logs& logs) { finish(logs); }

}  // namespace strata::callbacks
