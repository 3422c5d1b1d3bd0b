#pragma once
// A shared handle that accepts either an existing shared_ptr or a temporary object, so call sites read
// like Keras: `Sequential({layers::Dense(10)})`, `.optimizer = optimizers::Adam()`.

#include <concepts>
#include <memory>
#include <type_traits>
#include <utility>

namespace strata {

template <class Base>
class Ref {
 public:
  Ref() = default;

  template <class T>
    requires std::derived_from<std::decay_t<T>, Base> && std::constructible_from<std::decay_t<T>, T&&>
  Ref(T&& value)  // NOLINT: implicit on purpose, it is what makes the Keras-like call sites work
      : ptr_(std::make_shared<std::decay_t<T>>(std::forward<T>(value))) {}

  template <class T>
    requires std::derived_from<T, Base>
  Ref(std::shared_ptr<T> ptr) : ptr_(std::move(ptr)) {}  // NOLINT

  Base* operator->() const { return ptr_.get(); }
  Base& operator*() const { return *ptr_; }
  const std::shared_ptr<Base>& ptr() const { return ptr_; }
  explicit operator bool() const { return static_cast<bool>(ptr_); }

 private:
  std::shared_ptr<Base> ptr_;
};

}  // namespace strata
