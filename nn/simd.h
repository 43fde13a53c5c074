/* Internal to nn/: MULTIVERSION marks a hot loop that GCC compiles once per listed target and
 * dispatches at load time, so the library runs on any x86-64 yet uses AVX-512 or AVX2 where
 * present. The parts are built with -fno-math-errno, which lets sqrtf vectorize in them. */
#ifndef SHOAL_NN_SIMD_H
#define SHOAL_NN_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

#endif
