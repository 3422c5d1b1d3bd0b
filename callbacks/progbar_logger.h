#pragma once
// ProgbarLogger: prints "Epoch i/N" and a Progbar for training, evaluation and prediction. fit(),
// evaluate() and predict() add it themselves when verbose is not 0.

#include <strata/callbacks/callback.h>
#include <strata/callbacks/progbar.h>

#include <iostream>
#include <memory>

namespace strata::callbacks {

class ProgbarLogger : public Callback {
 public:
  explicit ProgbarLogger(std::ostream& out = std::cout) : out_(&out) {}

  bool needs_batch_logs() const override;
  bool chief_only() const override { return true; }

  void on_train_begin(const Logs& logs) override { in_fit_ = true; }
  void on_train_end(const Logs& logs) override { in_fit_ = false; }
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_test_begin(const Logs& logs) override;
  void on_test_batch_end(int64_t batch, const Logs& logs) override;
  void on_test_end(const Logs& logs) override;
  void on_predict_begin(const Logs& logs) override;
  void on_predict_batch_end(int64_t batch, const Logs& logs) override;
  void on_predict_end(const Logs& logs) override;

 private:
  void start(int64_t steps);
  void step(int64_t batch, const Logs& logs);
  void finish(const Logs& logs);

  std::ostream* out_;
  std::unique_ptr<Progbar> progbar_;
  int64_t seen_ = 0;
  int64_t learned_steps_ = -1;  // an unknown epoch length, once the first epoch has shown it
  bool in_fit_ = false;  // validation inside fit() shows no bar of its own, as in Keras
};

}  // namespace strata::callbacks
