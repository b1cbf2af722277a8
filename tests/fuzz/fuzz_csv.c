/* fuzz_csv.c - the CSV reader (aert_load_csv). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	aert_dataset ds;
	aert_err err;
	int rc = aert_load_csv(fuzz_file(data, size), &ds, &err);
	fuzz_dataset(&ds, rc, &err);
	return 0;
}
