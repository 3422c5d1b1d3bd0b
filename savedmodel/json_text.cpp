#include <strata/core/error.h>
#include <strata/savedmodel/json_text.h>

namespace strata::savedmodel {

nlohmann::json parse_json(const std::string& text, const std::string& file, const std::string& entry) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError("cannot load '" + file + "': " + entry + " is not valid JSON (" + e.what() + ")");
  }
}

}  // namespace strata::savedmodel
