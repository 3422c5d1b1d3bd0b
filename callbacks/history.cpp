#include <strata/callbacks/history.h>

namespace strata::callbacks {

void History::on_train_begin(const Logs& logs) {
  history.clear();
  epoch.clear();
}

void History::on_epoch_end(int epoch_index, Logs& logs) {
  epoch.push_back(epoch_index);
  for (const auto& [key, value] : logs) history[key].push_back(value);
}

}  // namespace strata::callbacks
