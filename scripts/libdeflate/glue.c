/*
 * tinyimage's glue around libdeflate's compressor, built to WebAssembly by
 * scripts/build-libdeflate-wasm.sh: a bump allocator (the module is used by
 * one thread for one level, and nothing is ever freed but the scratch area,
 * which only grows) and five exports. libdeflate has no flush: its one
 * change (continuable.patch, two lines) lets ti_deflate_continuable make no
 * block final and say how many bits of the last byte are used, so that the
 * stream can end here with a sync flush and the next piece follow it.
 */
#include <stddef.h>
#include "libdeflate.h"

extern unsigned char __heap_base;
static size_t top = 0;

static void *bump(size_t n) {
  if (!top) top = (size_t)&__heap_base;
  size_t p = (top + 15) & ~(size_t)15;
  size_t end = p + n;
  size_t have = __builtin_wasm_memory_size(0) * 65536;
  if (end < p) return NULL;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1) return NULL;
  top = end;
  return (void *)p;
}

static void nofree(void *p) { (void)p; }

int ti_continuable = 0;
unsigned ti_last_bitcount = 0;

static struct libdeflate_compressor *comp;
static unsigned char *scratch;
static size_t scratch_size;

/* Make the compressor for `level` (0-12); 1 on success. Call once. */
__attribute__((export_name("ti_init"))) int ti_init(int level) {
  libdeflate_set_memory_allocator(bump, nofree);
  comp = libdeflate_alloc_compressor(level);
  return comp != NULL;
}

/* A region of at least `n` bytes (input, then output); 0 when out of memory. */
__attribute__((export_name("ti_scratch"))) unsigned char *ti_scratch(size_t n) {
  if (n > scratch_size) {
    scratch = bump(n);
    scratch_size = scratch ? n : 0;
  }
  return scratch;
}

/* Most bytes ti_deflate can write for `n` input bytes. */
__attribute__((export_name("ti_bound"))) size_t ti_bound(size_t n) {
  return libdeflate_deflate_compress_bound(comp, n);
}

/* Raw deflate of in[0, n) into out[0, cap), a finished stream: its size, 0 when it did not fit. */
__attribute__((export_name("ti_deflate"))) size_t ti_deflate(const unsigned char *in, size_t n, unsigned char *out,
                                                             size_t cap) {
  return libdeflate_deflate_compress(comp, in, n, out, cap);
}

/*
 * Raw deflate of in[0, n) into out[0, cap) with no final block, ended by a
 * sync flush (an empty stored block: 3 zero bits, zero padding to the byte,
 * LEN 0000, NLEN ffff) so another deflate stream's blocks can follow: its
 * size, 0 when it did not fit. Inputs libdeflate stores whole (a few dozen
 * bytes) come out final: the caller stores those itself.
 */
__attribute__((export_name("ti_deflate_continuable"))) size_t ti_deflate_continuable(const unsigned char *in, size_t n,
                                                                                     unsigned char *out, size_t cap) {
  ti_continuable = 1;
  ti_last_bitcount = 0;
  size_t r = libdeflate_deflate_compress(comp, in, n, out, cap);
  ti_continuable = 0;
  if (!r) return 0;
  /* the 3 header bits fit after the last code in its byte when at most 5 of its bits are used */
  if (ti_last_bitcount == 0 || ti_last_bitcount > 5) {
    if (r >= cap) return 0;
    out[r++] = 0;
  }
  if (cap - r < 4) return 0;
  out[r++] = 0;
  out[r++] = 0;
  out[r++] = 0xff;
  out[r++] = 0xff;
  return r;
}
