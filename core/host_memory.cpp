#include <strata/core/host_memory.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace strata {

void keep_host_memory_for_reuse() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* setting = std::getenv("STRATA_MALLOC_TUNING");
    if (setting != nullptr && std::strcmp(setting, "0") == 0) return;
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest value glibc accepts on 64-bit systems
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  });
}

}  // namespace strata
