#pragma once
// Training allocates and frees the same large activation buffers every step. By default glibc's malloc
// serves blocks above a moving threshold with fresh mmap()s and trims freed heap memory back to the
// kernel, so every step page-faults its activations in again: on the Fashion-MNIST CNN that doubled the
// step time. keep_host_memory_for_reuse() has malloc serve blocks up to 32 MiB from its heap and keep up
// to 1 GiB of freed memory for the next step. fit, evaluate and predict call it once per process;
// STRATA_MALLOC_TUNING=0 in the environment leaves malloc's settings alone.

namespace strata {

void keep_host_memory_for_reuse();

}  // namespace strata
