#pragma once
// History: what fit() returns — one value per epoch for every log key (loss, accuracy, val_loss, ...).

#include <strata/callbacks/callback.h>

#include <map>
#include <string>
#include <vector>

namespace strata::callbacks {

class History : public Callback {
 public:
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

  // history.at("val_loss")[i] is the value after epoch epoch[i].
  std::map<std::string, std::vector<double>> history;
  std::vector<int> epoch;
};

}  // namespace strata::callbacks
