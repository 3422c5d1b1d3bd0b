#include <strata/callbacks/python_format.h>
#include <strata/core/error.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace strata::callbacks {

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e-05", then laid out by Python's rule.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string sci(buffer, result.ptr);
  const bool negative = sci.front() == '-';
  if (negative) sci.erase(0, 1);
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(static_cast<size_t>(exponent + 1) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exponent + 1)) + "." + digits.substr(static_cast<size_t>(exponent + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_text[16];
    std::snprintf(exp_text, sizeof(exp_text), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_text;
  }
  return negative ? "-" + out : out;
}

namespace {

std::string format_field(const std::string& pattern, const std::string& name, const std::string& spec,
                         const FormatValue& value) {
  const auto bad = [&](const std::string& why) {
    return ValueError("python_format(\"" + pattern + "\"): field {" + name + (spec.empty() ? "" : ":" + spec) +
                      "}: " + why);
  };
  if (spec.empty()) {
    if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
    return python_float_repr(std::get<double>(value));
  }
  // [0][width][.precision][type]
  size_t pos = 0;
  bool zero = false;
  if (spec[pos] == '0') {
    zero = true;
    ++pos;
  }
  int width = 0;
  while (pos < spec.size() && std::isdigit(static_cast<unsigned char>(spec[pos]))) width = width * 10 + (spec[pos++] - '0');
  int precision = -1;
  if (pos < spec.size() && spec[pos] == '.') {
    ++pos;
    if (pos == spec.size() || !std::isdigit(static_cast<unsigned char>(spec[pos]))) throw bad("Format specifier missing precision");
    precision = 0;
    while (pos < spec.size() && std::isdigit(static_cast<unsigned char>(spec[pos]))) precision = precision * 10 + (spec[pos++] - '0');
  }
  char type = 0;
  if (pos < spec.size()) type = spec[pos++];
  if (pos != spec.size()) throw bad("Invalid format specifier '" + spec + "'");

  const std::string flags = std::string("%") + (zero ? "0" : "") + (width > 0 ? std::to_string(width) : "");
  char out[512];
  if (type == 'd') {
    if (!std::holds_alternative<int64_t>(value)) throw bad("Unknown format code 'd' for object of type 'float'");
    if (precision >= 0) throw bad("Precision not allowed in integer format specifier");
    std::snprintf(out, sizeof(out), (flags + "lld").c_str(), static_cast<long long>(std::get<int64_t>(value)));
    return out;
  }
  const double number = std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
                                                               : std::get<double>(value);
  if (type == 0 && precision < 0) {  // width only: the value's str(), padded
    std::string text = std::holds_alternative<int64_t>(value) ? std::to_string(std::get<int64_t>(value))
                                                              : python_float_repr(number);
    if (static_cast<int>(text.size()) < width) text.insert(0, static_cast<size_t>(width) - text.size(), zero ? '0' : ' ');
    return text;
  }
  if (type == 0) type = 'g';  // Python's "no type with a precision" is close to 'g' for the values Keras logs
  if (type == '%') {
    std::snprintf(out, sizeof(out), (flags + "." + std::to_string(precision < 0 ? 6 : precision) + "f%%").c_str(),
                  number * 100.0);
    return out;
  }
  if (std::string("fFeEgG").find(type) == std::string::npos)
    throw bad(std::string("Unknown format code '") + type + "'");
  std::snprintf(out, sizeof(out), (flags + "." + std::to_string(precision < 0 ? 6 : precision) + type).c_str(), number);
  return out;
}

}  // namespace

std::string python_format(const std::string& pattern, const std::map<std::string, FormatValue>& values) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '}') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw ValueError("python_format(\"" + pattern + "\"): Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos)
      throw ValueError("python_format(\"" + pattern + "\"): Single '{' encountered in format string");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    if (name.empty() || name.find('{') != std::string::npos)
      throw ValueError("python_format(\"" + pattern + "\"): expected a named field, got {" + field + "}");
    const auto found = values.find(name);
    if (found == values.end()) {
      std::string available;
      for (const auto& [key, v] : values) available += (available.empty() ? "" : ", ") + key;
      throw ValueError("python_format(\"" + pattern + "\"): no value named '" + name + "' (available: " + available + ")");
    }
    out += format_field(pattern, name, spec, found->second);
    i = close;
  }
  return out;
}

}  // namespace strata::callbacks
