#pragma once
// The error distributed training raises when processes cannot meet or talk: a rendezvous that timed out,
// a peer that died or stopped answering, a worker whose model differs from the chief's.

#include <strata/core/error.h>

namespace strata {

class DistributedError : public Error {
 public:
  using Error::Error;
};

}  // namespace strata
