#include <strata/core/naming.h>

#include <cctype>
#include <map>
#include <mutex>

namespace strata {
namespace {

std::mutex names_mutex;
std::map<std::string, int>& name_counts() {
  static std::map<std::string, int> counts;
  return counts;
}

}  // namespace

std::string to_snake_case(const std::string& class_name) {
  std::string out;
  for (size_t i = 0; i < class_name.size(); ++i) {
    const char c = class_name[i];
    const bool upper = std::isupper(static_cast<unsigned char>(c));
    // An underscore goes before an upper-case letter that starts a new word: after a lower-case
    // letter, or before a lower-case letter that follows an acronym ("HTTPServer" -> "http_server").
    if (upper && i > 0) {
      const char prev = class_name[i - 1];
      const bool next_lower = i + 1 < class_name.size() && std::islower(static_cast<unsigned char>(class_name[i + 1]));
      if (std::islower(static_cast<unsigned char>(prev)) || (std::isupper(static_cast<unsigned char>(prev)) && next_lower))
        out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string unique_name(const std::string& base) {
  std::lock_guard<std::mutex> lock(names_mutex);
  int& count = name_counts()[base];
  const std::string name = count == 0 ? base : base + "_" + std::to_string(count);
  ++count;
  return name;
}

void clear_session() {
  std::lock_guard<std::mutex> lock(names_mutex);
  name_counts().clear();
}

}  // namespace strata
