#pragma once
// SHA-256 (FIPS 180-4), for names that must equal what Python's hashlib.sha256 gives (the HParams group name).

#include <string>

namespace strata {

// The digest of `data` as 64 lowercase hex digits, like hashlib.sha256(data).hexdigest().
std::string sha256_hex(const std::string& data);

}  // namespace strata
