#pragma once
// Everything written to a stream (std::cout, std::cerr) while it lives.

#include <ostream>
#include <sstream>
#include <string>

namespace strata::testing {

class CaptureStream {
 public:
  explicit CaptureStream(std::ostream& stream) : stream_(stream), old_(stream.rdbuf(buffer_.rdbuf())) {}
  ~CaptureStream() { stream_.rdbuf(old_); }
  CaptureStream(const CaptureStream&) = delete;
  CaptureStream& operator=(const CaptureStream&) = delete;
  std::string text() const { return buffer_.str(); }

 private:
  std::ostringstream buffer_;
  std::ostream& stream_;
  std::streambuf* old_;
};

}  // namespace strata::testing
