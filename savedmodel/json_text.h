#pragma once
// JSON text stored inside model files, parsed with errors that name the file and the entry.

#include <nlohmann/json.hpp>

#include <string>

namespace strata::savedmodel {

// ValueError "cannot load '<file>': <entry> is not valid JSON (...)" on bad text.
nlohmann::json parse_json(const std::string& text, const std::string& file, const std::string& entry);

}  // namespace strata::savedmodel
