#pragma once
// Every public entry point reports bad input with a strata::Error subclass whose message names the
// object (layer name, file path, option) and the expected versus the actual value.

#include <stdexcept>
#include <string>

namespace strata {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An argument or option has a value outside what the callee accepts.
class ValueError : public Error {
 public:
  using Error::Error;
};

// A tensor's shape (or dtype) does not match what a layer, loss or model expects.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A method was called when the object is not ready for it (e.g. fit() before compile()).
class StateError : public Error {
 public:
  using Error::Error;
};

// A file is missing, unreadable or not in the expected format.
class IOError : public Error {
 public:
  using Error::Error;
};

}  // namespace strata
