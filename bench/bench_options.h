#pragma once
// The benches' command lines: options read in order, `--name value` or `--flag`. Each bench names what it takes;
// an option it does not know, or one without its value, is a ValueError naming it.

#include <strata/core/error.h>

#include <functional>
#include <string>

namespace strata::bench {

// Consumes and returns the next argument, the current option's value.
using OptionValue = std::function<std::string()>;

// Calls `take(name, value)` for each option; `take` returns false for one the bench does not know. `expected`
// lists the bench's options for that error.
inline void parse_options(int argc, char** argv, const std::string& expected,
                          const std::function<bool(const std::string& name, const OptionValue& value)>& take) {
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    const OptionValue value = [&]() -> std::string {
      if (i + 1 >= argc) throw ValueError("option " + name + " needs a value");
      return argv[++i];
    };
    if (!take(name, value)) throw ValueError("unknown option '" + name + "'; expected " + expected);
  }
}

}  // namespace strata::bench
