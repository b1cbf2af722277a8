/* fuzz_safetensors.c - the safetensors reader, as the trainer uses it for
 * weights (--init) and checkpoints (--resume), into the state of the model
 * tests/fuzz/tiny.ae (parameters, BatchNorm's buffers, Adam's moments and
 * step), and for tensors of every dtype aert_st_load converts.
 *
 * Besides crashes and sanitizer reports, a finding is a load that fails
 * but changes the state (loads are all or nothing), a failure without a
 * message, or a checkpoint that loads but does not survive being saved
 * and loaded again. */
#include "fuzz.h"

#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const aert_model *tiny_aert_model(void);

/* Tensors of each dtype and rank, all optional. */
static void load_tensors(const char *path)
{
	uint8_t u8[4];
	double f64[2 * 3];
	int64_t i64;
	float f32[5];
	aert_tensor t[] = {
		{"a", AERT_U8, 1, {4}, u8},
		{"b", AERT_F64, 2, {2, 3}, f64},
		{"c", AERT_I64, 0, {0}, &i64},
		{"d", AERT_F32, 1, {5}, f32},
		{"encoder.0.weight", AERT_F32, 0, {0}, f32},
	};
	enum { N = sizeof t / sizeof t[0] };
	int found[N] = {1, 1, 1, 1, 1};
	aert_err err;
	if (aert_st_load(path, t, N, found, &err) != 0) {
		fuzz_failed(&err);
		return;
	}
	for (int i = 0; i < N; i++)
		FUZZ_CHECK(found[i] == 0 || found[i] == 1);
}

/* A fresh state of the model, aligned as the generated code needs. */
static void *new_state(const aert_model *m)
{
	void *p = NULL;
	FUZZ_CHECK(posix_memalign(&p, 64, m->state_bytes) == 0);
	m->init(p, 1);
	return p;
}

/* Where the round trip saves: a folder of its own in /dev/shm (or
 * $TMPDIR), made once and removed at exit. */
static char save_dir[200], save_file[256];

static void remove_save_dir(void)
{
	remove(save_file);
	rmdir(save_dir);
}

static const char *save_path(void)
{
	if (!save_dir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
		snprintf(save_dir, sizeof save_dir, "%s/aecc-fuzz-XXXXXX", base ? base : "/tmp");
		FUZZ_CHECK(mkdtemp(save_dir) != NULL);
		snprintf(save_file, sizeof save_file, "%s/state.safetensors", save_dir);
		atexit(remove_save_dir);
	}
	return save_file;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const aert_model *m = tiny_aert_model();
	const char *path = fuzz_file(data, size);
	void *state = new_state(m), *before = new_state(m);
	aert_err err;
	for (int optimizer = 0; optimizer <= 1; optimizer++) {
		m->init(state, 1);
		if (aert_load_model(m, state, path, optimizer, &err) != 0) {
			fuzz_failed(&err);
			FUZZ_CHECK(memcmp(state, before, m->state_bytes) == 0);
			continue;
		}
		if (!optimizer)
			continue;
		/* A checkpoint that loads saves and loads back the same. */
		void *again = new_state(m);
		FUZZ_CHECK(aert_save_model(m, state, save_path(), 1, &err) == 0);
		FUZZ_CHECK(aert_load_model(m, again, save_path(), 1, &err) == 0);
		FUZZ_CHECK(memcmp(state, again, m->state_bytes) == 0);
		free(again);
	}
	free(state);
	free(before);
	load_tensors(path);
	return 0;
}
