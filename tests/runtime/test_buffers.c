/* test_buffers.c - model buffers (BatchNorm's running statistics and
 * batch counter) in weights files and checkpoints. */
#include <criterion/criterion.h>
#include <string.h>

#include "aecc_rt.h"
#include "helpers.h"

TestSuite(buffers, .init = tmp_setup, .fini = tmp_teardown);

/* The state of a toy batch-normalized model: weight and bias, their Adam
 * moments, then running_mean, running_var and num_batches_tracked. */
typedef struct bn_state {
	int64_t step;
	int64_t pad[7];
	float p[4], m[4], v[4];
	float running[4];   /* running_mean [2], running_var [2] */
	int64_t tracked;    /* num_batches_tracked */
} bn_state;

static void *bn_params(void *s) { return ((bn_state *)s)->p; }
static void *bn_m(void *s) { return ((bn_state *)s)->m; }
static void *bn_v(void *s) { return ((bn_state *)s)->v; }
static int64_t *bn_step(void *s) { return &((bn_state *)s)->step; }
static void *bn_buffers(void *s) { return ((bn_state *)s)->running; }

static const aert_param BN_PARAMS[2] = {
	{"encoder.0.weight", 1, {2}, 0, 2},
	{"encoder.0.bias", 1, {2}, 2, 2},
};

static const aert_buffer BN_BUFFERS[3] = {
	{"encoder.0.running_mean", AERT_F32, 1, {2}, 0, 2},
	{"encoder.0.running_var", AERT_F32, 1, {2}, 2 * sizeof(float), 2},
	{"encoder.0.num_batches_tracked", AERT_I64, 0, {0}, offsetof(bn_state, tracked) - offsetof(bn_state, running), 1},
};

static aert_model bn_model(void)
{
	aert_model m = {0};
	m.name = "bn";
	m.real_size = 4;
	m.state_bytes = sizeof(bn_state);
	m.n_params = 2;
	m.params = BN_PARAMS;
	m.param_elems = 4;
	m.params_of = bn_params;
	m.adam_m_of = bn_m;
	m.adam_v_of = bn_v;
	m.step_of = bn_step;
	m.n_buffers = 3;
	m.buffers = BN_BUFFERS;
	m.buffers_of = bn_buffers;
	return m;
}

static void bn_fill(bn_state *s, float base)
{
	memset(s, 0, sizeof *s);
	s->step = (int64_t)base;
	for (int i = 0; i < 4; i++) {
		s->p[i] = base + (float)i;
		s->m[i] = base / 10 + (float)i;
		s->v[i] = base / 100 + (float)i;
		s->running[i] = base / 1000 + (float)i;
	}
	s->tracked = 1000 + (int64_t)base;
}

Test(buffers, checkpoint_round_trip)
{
	aert_model m = bn_model();
	bn_state saved, loaded;
	bn_fill(&saved, 7);
	bn_fill(&loaded, 0);
	char *path = tmp_path("ckpt.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &saved, path, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_load_model(&m, &loaded, path, 1, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(&loaded, &saved, sizeof saved);
	free(path);
}

Test(buffers, weights_file_holds_them_under_pytorch_names)
{
	aert_model m = bn_model();
	bn_state s;
	bn_fill(&s, 3);
	char *path = tmp_path("w.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &s, path, 0, &err), 0, "%s", err.msg);
	float var[2];
	int64_t tracked = 0;
	aert_tensor t[2] = {{"encoder.0.running_var", AERT_F32, 1, {2}, var},
			    {"encoder.0.num_batches_tracked", AERT_I64, 0, {0}, &tracked}};
	cr_assert_eq(aert_st_load(path, t, 2, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(var[1], 0.003f + 3);
	cr_assert_eq(tracked, 1003);
	free(path);
}

Test(buffers, missing_buffer_fails_and_leaves_state_unchanged)
{
	aert_model m = bn_model();
	bn_state s, before;
	bn_fill(&s, 5);
	before = s;
	float w[2] = {9, 9}, b[2] = {9, 9};
	aert_tensor only_params[2] = {{"encoder.0.weight", AERT_F32, 1, {2}, w},
				      {"encoder.0.bias", AERT_F32, 1, {2}, b}};
	char *path = tmp_path("old.safetensors");
	aert_err err;
	cr_assert_eq(aert_st_save(path, only_params, 2, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_load_model(&m, &s, path, 0, &err), -1);
	cr_assert_not_null(strstr(err.msg, "encoder.0.running_mean"), "%s", err.msg);
	cr_assert_arr_eq(&s, &before, sizeof s);
	/* The same file loads into a model without buffers. */
	m.n_buffers = 0;
	m.buffers = NULL;
	m.buffers_of = NULL;
	cr_assert_eq(aert_load_model(&m, &s, path, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(s.p[0], 9);
	free(path);
}

Test(buffers, counter_dtype_must_match)
{
	aert_model m = bn_model();
	bn_state s;
	bn_fill(&s, 2);
	char *path = tmp_path("w.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &s, path, 0, &err), 0, "%s", err.msg);
	aert_buffer wrong[3];
	memcpy(wrong, BN_BUFFERS, sizeof wrong);
	wrong[2].dtype = AERT_F32;
	m.buffers = wrong;
	cr_assert_eq(aert_load_model(&m, &s, path, 0, &err), -1, "an I64 counter does not load as F32");
	free(path);
}
