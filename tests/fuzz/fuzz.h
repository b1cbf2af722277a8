/* fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * Each target is LLVMFuzzerTestOneInput over one reader of aecc: the .ae
 * front end (fuzz_ae), IDX (fuzz_idx), NPY (fuzz_npy), CSV (fuzz_csv) and
 * safetensors weights and checkpoints (fuzz_safetensors). A crash, a
 * sanitizer report, a broken promise of the reader's interface (checked
 * with FUZZ_CHECK) or a leak is a finding. */
#ifndef AECC_FUZZ_H
#define AECC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aecc_rt.h"

/* The readers under test take a path: the input is written to one
 * in-memory file (memfd), reopened through /proc/self/fd/N, and this is
 * its path. The file lives for the whole run. */
const char *fuzz_file(const uint8_t *data, size_t size);

/* A reader failed: its message must be a non-empty line that fits. */
void fuzz_failed(const aert_err *err);
/* A loader returned rc with *ds and *err: check what aecc_rt.h promises
 * (a failure leaves *ds zeroed; a dataset's sizes agree and its payload is
 * all there and finite), batch its first and last samples, then free it. */
void fuzz_dataset(aert_dataset *ds, int rc, const aert_err *err);

/* The reader's interface promises c: abort (a finding) if it does not. */
#define FUZZ_CHECK(c)                                                                              \
	((c) ? (void)0                                                                             \
	     : (fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #c), abort()))

#endif
