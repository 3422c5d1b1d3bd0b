// Compiled only to host the precompiled ATen header that executables reuse.
