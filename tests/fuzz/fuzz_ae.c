/* fuzz_ae.c - the .ae front end, as `aecc check` runs it: parse, lower,
 * read the train and data sections, check shapes, then differentiate,
 * fuse and plan memory (every pass before emission). The verdict is
 * user errors (reported as diagnostics) or a planned model; with
 * FUZZ_AE_EMIT=1 in the environment the target then renders the model's C
 * in memory as `aecc emit` would (three times slower). Anything that
 * aborts (an internal compiler error), exits (out of memory) or trips a
 * sanitizer is a finding. Every allocation of the compiler is released
 * after each input (util_release). */
#include "fuzz.h"

#include "c.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int emit = -1;
	if (emit < 0) {
		const char *e = getenv("FUZZ_AE_EMIT");
		emit = e && *e == '1';
	}
	Options o = {.stop_after = PASS_ALL};
	Model *m = pipeline_run(fuzz_file(data, size), &o);
	/* A model comes back exactly when no error was reported. */
	FUZZ_CHECK((m != NULL) == (diag_errors() == 0));
	if (m) {
		FUZZ_CHECK(m->state_bytes > 0 && m->work_bytes >= m->grad_bytes);
		FUZZ_CHECK(m->train.batch >= 1);
		if (emit) {
			CFiles files = {0};
			c_render(m, &files);
			FUZZ_CHECK(files.h.len > 0 && files.c.len > 0 && files.main.len > 0);
		}
	}
	util_release();
	return 0;
}
