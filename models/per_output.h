#pragma once
// A compile() option that can differ per model output, given as Keras takes it: one value for every output
// (`.loss = "mse"`), a list by output position (`.loss = {"mse", "binary_crossentropy"}`), or a map by output
// name (`.loss_weights = {{"class_out", 1.0}, {"box_out", 0.2}}`).

#include <strata/core/error.h>

#include <concepts>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace strata {

template <class T>
class PerOutput {
 public:
  PerOutput() = default;
  template <class U>
    requires std::convertible_to<U&&, T> && (!std::same_as<std::decay_t<U>, PerOutput>)
  PerOutput(U&& every) : every_(T(std::forward<U>(every))) {}  // NOLINT
  // A braced list by position for single-valued options (`.loss_weights = {1.0, 0.2}`). List-valued options
  // (metrics) take a std::vector of lists by position instead: a braced `{{"out", {"accuracy"}}}` would read
  // as a list by position as well as a map by name, and C++ cannot rank the two.
  template <class E = T>
    requires(!requires { typename E::value_type; })
  PerOutput(std::initializer_list<T> by_position) : by_position_(by_position) {}
  PerOutput(std::vector<T> by_position) : by_position_(std::move(by_position)) {}  // NOLINT
  PerOutput(std::initializer_list<std::pair<const std::string, T>> by_name) : by_name_(by_name) {}
  PerOutput(std::map<std::string, T> by_name) : by_name_(std::move(by_name)) {}  // NOLINT
  // For list-valued options (metrics): a plain list applies to every output, as in tf.keras 2.
  template <class E = T>
    requires requires { typename E::value_type; } && std::same_as<E, std::vector<typename E::value_type>>
  PerOutput(std::initializer_list<typename E::value_type> every) : every_(T(every)) {}

  bool empty() const { return !every_ && by_position_.empty() && by_name_.empty(); }
  // The form it was given in (one of them is set, or none when empty()), for saving it in the same form.
  const std::optional<T>& every() const { return every_; }
  const std::vector<T>& by_position() const { return by_position_; }
  const std::map<std::string, T>& by_name() const { return by_name_; }
  // Every value given, whichever way, to check them before the outputs are known.
  std::vector<T> values() const {
    std::vector<T> out(by_position_);
    if (every_) out.push_back(*every_);
    for (const auto& [name, value] : by_name_) out.push_back(value);
    return out;
  }

  // One entry per output (nullopt where the option leaves an output out). `who` and `what` (".loss") name
  // the caller and the option when the list's length or a name does not match the outputs.
  std::vector<std::optional<T>> resolve(const std::vector<std::string>& output_names, const std::string& who,
                                        const std::string& what) const {
    std::vector<std::optional<T>> out(output_names.size());
    if (every_) {
      for (auto& entry : out) entry = *every_;
    } else if (!by_position_.empty()) {
      if (by_position_.size() != output_names.size())
        throw ValueError(who + ": " + what + " has " + std::to_string(by_position_.size()) + " entries for " +
                         std::to_string(output_names.size()) + " outputs");
      for (size_t i = 0; i < out.size(); ++i) out[i] = by_position_[i];
    } else {
      for (const auto& [name, value] : by_name_) {
        size_t i = 0;
        while (i < output_names.size() && output_names[i] != name) ++i;
        if (i == output_names.size()) {
          std::string known;
          for (const auto& n : output_names) known += (known.empty() ? "" : ", ") + n;
          throw ValueError(who + ": " + what + " names output '" + name + "', but the outputs are: " + known);
        }
        out[i] = value;
      }
    }
    return out;
  }

 private:
  std::optional<T> every_;
  std::vector<T> by_position_;
  std::map<std::string, T> by_name_;
};

}  // namespace strata
