#pragma once
// The `logs` Keras passes to callbacks and returns from evaluate: named scalars in insertion order
// (loss first, then the metrics in compile order, then the val_ entries).

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace strata {

class Logs {
 public:
  using Entry = std::pair<std::string, double>;

  void set(const std::string& key, double value);
  bool contains(const std::string& key) const;
  double at(const std::string& key) const;  // throws ValueError naming the missing key
  std::optional<double> get(const std::string& key) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace strata
