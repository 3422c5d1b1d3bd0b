#pragma once
// The bits of Python's string formatting that Keras callbacks rely on: repr() of a float (what Keras prints
// for a learning rate and CSVLogger writes for a log value) and str.format() over named values (what
// ModelCheckpoint does with its filepath).

#include <strata/core/logs.h>

#include <cstdint>
#include <map>
#include <string>
#include <variant>

namespace strata::callbacks {

// Python's repr(float): the shortest digits that round-trip, fixed notation for exponents in [-4, 16),
// otherwise scientific ("1e-05", "1.5e+16"); "nan", "inf", "-inf".
std::string python_float_repr(double value);

// A value str.format() can receive: an int (epoch, batch) or a float (a log value).
using FormatValue = std::variant<int64_t, double>;

// Python's `template.format(**values)` for replacement fields {name} and {name:spec} with the specs Keras
// users write: [0][width][.precision][type], type one of d, f, e, E, g, G, % or none; "{{" and "}}" are
// literal braces. Throws ValueError for a malformed template, a name not in `values` (listing those
// available), or a spec that does not fit the value (Python's "Unknown format code 'd' for object of type
// 'float'").
std::string python_format(const std::string& pattern, const std::map<std::string, FormatValue>& values);

}  // namespace strata::callbacks
