/* test_safetensors.c - safetensors files and model checkpoints. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aecc_rt.h"
#include "helpers.h"

TestSuite(safetensors, .init = tmp_setup, .fini = tmp_teardown);
TestSuite(checkpoint, .init = tmp_setup, .fini = tmp_teardown);

/* Four tensors of every supported dtype. */
typedef struct sample_tensors {
	float a[6];
	double b[4];
	int64_t step;
	uint8_t u[5];
	aert_tensor t[4];
} sample_tensors;

static void sample_fill(sample_tensors *s)
{
	for (int i = 0; i < 6; i++)
		s->a[i] = 0.5f * (float)i - 1;
	for (int i = 0; i < 4; i++)
		s->b[i] = 1.0 / (i + 3);
	s->step = 123456789012345;
	for (int i = 0; i < 5; i++)
		s->u[i] = (uint8_t)(200 + i);
	aert_tensor t[4] = {
		{"a", AERT_F32, 2, {2, 3}, s->a},
		{"b", AERT_F64, 1, {4}, s->b},
		{"optimizer.step", AERT_I64, 0, {0}, &s->step},
		{"u", AERT_U8, 1, {5}, s->u},
	};
	memcpy(s->t, t, sizeof t);
}

/* Save the sample tensors to tmp_dir/NAME; returns the path. */
static char *save_sample(const char *name)
{
	sample_tensors s;
	sample_fill(&s);
	char *path = tmp_path(name);
	aert_err err;
	cr_assert_eq(aert_st_save(path, s.t, 4, &err), 0, "%s", err.msg);
	return path;
}

/* A file with the given header text (padded) and data. */
static char *write_st(const char *header, const void *data, size_t data_len)
{
	size_t hlen = strlen(header);
	size_t padded = (hlen + 7) / 8 * 8;
	unsigned char *b = malloc(8 + padded + data_len + 1);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)padded >> (8 * i));
	memcpy(b + 8, header, hlen);
	memset(b + 8 + hlen, ' ', padded - hlen);
	memcpy(b + 8 + padded, data, data_len);
	char *path = tmp_path("h.safetensors");
	write_bytes(path, b, 8 + padded + data_len);
	free(b);
	return path;
}

/* Loading one F32 [2] tensor "x" from path fails with `part` in the message. */
static void expect_st_error(const char *path, const char *part)
{
	float x[2] = {7, 7};
	aert_tensor t = {"x", AERT_F32, 1, {2}, x};
	aert_err err;
	cr_assert_eq(aert_st_load(path, &t, 1, NULL, &err), -1, "loading should fail (%s)", part);
	cr_expect_eq(strncmp(err.msg, path, strlen(path)), 0, "message names the file: %s", err.msg);
	cr_expect_not_null(strstr(err.msg, part), "message '%s' should contain '%s'", err.msg, part);
	cr_expect(x[0] == 7 && x[1] == 7, "nothing written on failure");
}

Test(safetensors, round_trip_every_dtype)
{
	char *path = save_sample("w.safetensors");
	size_t len;
	unsigned char *bytes = read_bytes(path, &len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | bytes[i];
	cr_assert_eq(hlen % 8, 0, "header padded to 8 bytes");
	cr_assert_eq(len, 8 + hlen + 24 + 32 + 8 + 5);
	const char *start = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
			    "\"data_offsets\":[0,24]}";
	cr_assert_eq(memcmp(bytes + 8, start, strlen(start)), 0, "%.*s", (int)hlen, (const char *)bytes + 8);
	cr_assert_not_null(strstr((const char *)bytes + 8, "\"optimizer.step\":{\"dtype\":\"I64\",\"shape\":[],"));
	free(bytes);

	sample_tensors want, got;
	sample_fill(&want);
	memset(&got, 0, sizeof got);
	sample_fill(&got);
	memset(got.a, 0, sizeof got.a);
	memset(got.b, 0, sizeof got.b);
	got.step = 0;
	memset(got.u, 0, sizeof got.u);
	aert_tensor reversed[4] = {got.t[3], got.t[2], got.t[1], got.t[0]};
	aert_err err;
	cr_assert_eq(aert_st_load(path, reversed, 4, NULL, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(got.a, want.a, sizeof want.a);
	cr_assert_arr_eq(got.b, want.b, sizeof want.b);
	cr_assert_eq(got.step, want.step);
	cr_assert_arr_eq(got.u, want.u, sizeof want.u);
	free(path);
}

Test(safetensors, f32_f64_conversion)
{
	char *path = save_sample("w.safetensors");
	double a[6];
	float b[4];
	aert_tensor t[2] = {{"a", AERT_F64, 2, {2, 3}, a}, {"b", AERT_F32, 1, {4}, b}};
	aert_err err;
	cr_assert_eq(aert_st_load(path, t, 2, NULL, &err), 0, "%s", err.msg);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(a[i], 0.5 * i - 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(b[i], (float)(1.0 / (i + 3)));
	free(path);
}

Test(safetensors, missing_tensor_wrong_shape_wrong_dtype)
{
	char *path = save_sample("w.safetensors");
	float x[6];
	aert_err err;
	aert_tensor missing = {"encoder.0.weight", AERT_F32, 2, {256, 784}, x};
	cr_assert_eq(aert_st_load(path, &missing, 1, NULL, &err), -1);
	cr_assert_eq(strncmp(err.msg, path, strlen(path)), 0);
	cr_assert(ends_with(err.msg, ": tensor encoder.0.weight is missing (model expects [256, 784])"), "%s",
		  err.msg);
	aert_tensor shape = {"a", AERT_F32, 2, {3, 2}, x};
	cr_assert_eq(aert_st_load(path, &shape, 1, NULL, &err), -1);
	cr_assert(ends_with(err.msg, ": tensor a has shape [2, 3], model expects [3, 2]"), "%s", err.msg);
	aert_tensor rank = {"b", AERT_F64, 2, {2, 2}, x};
	cr_assert_eq(aert_st_load(path, &rank, 1, NULL, &err), -1);
	cr_assert(ends_with(err.msg, ": tensor b has shape [4], model expects [2, 2]"), "%s", err.msg);
	aert_tensor dtype = {"u", AERT_F32, 1, {5}, x};
	cr_assert_eq(aert_st_load(path, &dtype, 1, NULL, &err), -1);
	cr_assert(ends_with(err.msg, ": tensor u has dtype U8, model expects F32"), "%s", err.msg);
	free(path);
}

Test(safetensors, failure_writes_nothing)
{
	char *path = save_sample("w.safetensors");
	float a[6] = {0};
	double b[4] = {0};
	aert_tensor t[2] = {{"b", AERT_F64, 1, {4}, b}, {"a", AERT_F32, 2, {3, 2}, a}};
	aert_err err;
	cr_assert_eq(aert_st_load(path, t, 2, NULL, &err), -1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(b[i], 0, "b was read although a did not fit");
	free(path);
}

Test(safetensors, optional_tensors)
{
	char *path = save_sample("w.safetensors");
	float a[6], extra[2] = {42, 42};
	aert_tensor t[2] = {{"a", AERT_F32, 2, {2, 3}, a}, {"extra", AERT_F32, 1, {2}, extra}};
	int found[2] = {0, 1};
	aert_err err;
	cr_assert_eq(aert_st_load(path, t, 2, found, &err), 0, "%s", err.msg);
	cr_assert_eq(found[0], 1);
	cr_assert_eq(found[1], 0);
	cr_assert(extra[0] == 42 && extra[1] == 42);
	free(path);
}

Test(safetensors, truncated_file)
{
	char *path = save_sample("w.safetensors");
	size_t len;
	unsigned char *bytes = read_bytes(path, &len);
	write_bytes(path, bytes, len - 4);
	expect_st_error(path, "truncated: tensor data needs 69 bytes, the file holds 65");
	write_bytes(path, bytes, 5);
	expect_st_error(path, "truncated: 5 bytes, too short for a header length");
	free(bytes);
	free(path);
}

Test(safetensors, header_length_beyond_file)
{
	char *path = save_sample("w.safetensors");
	size_t len;
	unsigned char *bytes = read_bytes(path, &len);
	bytes[0] = 0xF0;
	bytes[5] = 0x01;
	write_bytes(path, bytes, len);
	expect_st_error(path, "exceeds the file size");
	free(bytes);
	free(path);
}

Test(safetensors, garbage_json)
{
	static const struct {
		const char *header, *problem;
	} cases[] = {
		{"{not json}", "invalid header JSON at byte 1: expected '\"'"},
		{"[1, 2]", "invalid header JSON at byte 0: expected '{'"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", "expected '\"'"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", "leading zero"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", "non-negative integer"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "non-negative integer"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", "text after the header"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "expected ','"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", "integer"},
		{"{\"x\x01\":{}}", "control character"},
		{"{\"x\xff\":{}}", "invalid UTF-8"},
		{"{\"x\xc0\x80\":{}}", "invalid UTF-8"},
		{"{\"x\\q\":{}}", "bad escape"},
		{"{\"x\\ud800\":{}}", "lone high surrogate"},
		{"{\"x\\u00\":{}}", "bad \\u escape"},
		{"{\"x\\u0000\":{}}", "\\u0000"},
		{"{\"x", "unterminated string"},
		{"{\"__metadata__\":{\"a\":1}}", "__metadata__ values must be strings"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"more\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		 "]]]]]]]]]]}}",
		 "nested too deeply"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"more\":tru}}", "expected a number"},
	};
	const float data[2] = {1, 2};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = write_st(cases[i].header, data, sizeof data);
		expect_st_error(path, cases[i].problem);
		free(path);
	}
}

Test(safetensors, inconsistent_headers)
{
	static const struct {
		const char *header, *problem;
		size_t data_len;
	} cases[] = {
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}",
		 "tensor x: data_offsets [0, 12] do not match F32 [2] (8 bytes)", 12},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "do not match", 8},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "gap or overlap", 12},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		 "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
		 "gap or overlap", 8},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "4 bytes after the last tensor", 12},
		{"{\"x\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unknown dtype 'F17'", 8},
		{"{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "tensor x: shape is missing", 8},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "data_offsets must be [begin, end]", 8},
		{"{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype appears twice",
		 8},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		 "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
		 "tensor x appears twice", 8},
		{"{\"__metadata__\":{},\"__metadata__\":{}}", "__metadata__ appears twice", 0},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}",
		 "is too large", 8},
	};
	const unsigned char data[12] = {0};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = write_st(cases[i].header, data, cases[i].data_len);
		expect_st_error(path, cases[i].problem);
		free(path);
	}
}

Test(safetensors, valid_files_from_elsewhere)
{
	/* Escaped names, unknown keys, whitespace, a dtype we do not load,
	 * an empty tensor and no metadata all make a valid file. */
	const char *header = " { \"w\\u00e9ight\" : { \"shape\" : [ 2 ] , \"extra\" : {\"k\": [true, null, -1.5e3]},"
			     " \"dtype\" : \"F32\" , \"data_offsets\" : [ 4 , 12 ] } ,\n"
			     "\"h\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]},"
			     "\"e\": {\"dtype\": \"F64\", \"shape\": [0, 3], \"data_offsets\": [12, 12]} }";
	unsigned char data[12] = {0};
	const float w[2] = {3.5f, -1};
	memcpy(data + 4, w, 8);
	char *path = write_st(header, data, sizeof data);
	float got[2];
	double none[1];
	aert_tensor t[2] = {{"w\xc3\xa9ight", AERT_F32, 1, {2}, got}, {"e", AERT_F64, 2, {0, 3}, none}};
	aert_err err;
	cr_assert_eq(aert_st_load(path, t, 2, NULL, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(got, w, sizeof w);
	aert_tensor h = {"h", AERT_F32, 1, {2}, got};
	cr_assert_eq(aert_st_load(path, &h, 1, NULL, &err), -1);
	cr_assert(ends_with(err.msg, "tensor h has dtype BF16, model expects F32"), "%s", err.msg);
	free(path);
}

Test(safetensors, no_tensors)
{
	/* An empty header object is a valid file with nothing in it. */
	char *path = write_st("{}", "", 0);
	float x;
	aert_tensor t = {"x", AERT_F32, 0, {0}, &x};
	int found = 1;
	aert_err err;
	cr_assert_eq(aert_st_load(path, &t, 1, &found, &err), 0, "%s", err.msg);
	cr_assert_eq(found, 0);
	cr_assert_eq(aert_st_load(path, NULL, 0, NULL, &err), 0, "%s", err.msg);
	free(path);
}

Test(safetensors, names_are_escaped)
{
	float x[1] = {1};
	aert_tensor t = {"a \"quoted\"\\name\t", AERT_F32, 1, {1}, x};
	char *path = tmp_path("n.safetensors");
	aert_err err;
	cr_assert_eq(aert_st_save(path, &t, 1, &err), 0, "%s", err.msg);
	x[0] = 0;
	cr_assert_eq(aert_st_load(path, &t, 1, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(x[0], 1);
	free(path);
}

Test(safetensors, atomic_save_into_missing_directory)
{
	sample_tensors s;
	sample_fill(&s);
	char *path = tmp_path("missing/w.safetensors");
	aert_err err;
	cr_assert_eq(aert_st_save(path, s.t, 4, &err), -1);
	cr_assert_eq(strncmp(err.msg, path, strlen(path)), 0, "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "cannot create a temporary file next to it: No such file or directory"),
			   "%s", err.msg);
	cr_assert_eq(count_entries(tmp_dir), 0, "nothing left behind");
	free(path);
}

Test(safetensors, failed_save_keeps_the_old_file)
{
	char *path = save_sample("w.safetensors");
	size_t len, len2;
	unsigned char *before = read_bytes(path, &len);
	float x[1] = {0};
	aert_tensor bad[2] = {{"x", AERT_F32, 1, {1}, x}, {"x", AERT_F32, 1, {1}, x}};
	aert_err err;
	cr_assert_eq(aert_st_save(path, bad, 2, &err), -1);
	cr_assert(ends_with(err.msg, "tensor x appears twice"), "%s", err.msg);
	bad[1].name = "__metadata__";
	cr_assert_eq(aert_st_save(path, bad, 2, &err), -1);
	bad[1].name = "y";
	bad[1].rank = 5;
	cr_assert_eq(aert_st_save(path, bad, 2, &err), -1);
	cr_assert(ends_with(err.msg, "tensor y: rank 5 is not 0..4"), "%s", err.msg);
	unsigned char *after = read_bytes(path, &len2);
	cr_assert_eq(len, len2);
	cr_assert_arr_eq(before, after, len);
	cr_assert_eq(count_entries(tmp_dir), 1, "no temporary file left");
	/* A good save replaces the file and leaves nothing else. */
	bad[1].rank = 1;
	cr_assert_eq(aert_st_save(path, bad, 2, &err), 0, "%s", err.msg);
	cr_assert_eq(count_entries(tmp_dir), 1);
	free(before);
	free(after);
	free(path);
}

Test(safetensors, failed_write_keeps_the_old_file)
{
	char *path = save_sample("w.safetensors");
	size_t len, len2;
	unsigned char *before = read_bytes(path, &len);
	/* Files may not grow past 1000 bytes: writing 4000 fails with EFBIG. */
	static float big[1000];
	aert_tensor t = {"big", AERT_F32, 1, {1000}, big};
	struct rlimit limit = {1000, 1000};
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
	aert_err err;
	/* With SIGXFSZ's default action, which would kill the process: the
	 * save ignores it while it writes, then puts it back. */
	cr_assert_eq(aert_st_save(path, &t, 1, &err), -1);
	cr_assert(ends_with(err.msg, ": cannot write: File too large"), "%s", err.msg);
	struct sigaction now;
	cr_assert_eq(sigaction(SIGXFSZ, NULL, &now), 0);
	cr_assert_eq(now.sa_handler, SIG_DFL);
	unsigned char *after = read_bytes(path, &len2);
	cr_assert_eq(len, len2);
	cr_assert_arr_eq(before, after, len);
	cr_assert_eq(count_entries(tmp_dir), 1, "the temporary file is removed");
	free(before);
	free(after);
	free(path);
}

/* A process that has exited and been reaped: its PID names no process. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* A child that creates `file` and holds a lock on it until the pipe
 * `hold` closes. */
static pid_t locking_child(const char *file, int hold[2])
{
	int ready[2];
	char c;
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(file, O_WRONLY | O_CREAT, 0666);
		if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "x", 1) != 1)
			_exit(1);
		close(hold[1]);
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	close(ready[0]);
	close(ready[1]);
	return pid;
}

Test(safetensors, temp_files_of_killed_saves_are_removed)
{
	char *path = tmp_path("w.safetensors"), name[512];
	/* Left by a save that was killed: its process is gone. */
	snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)dead_pid());
	char *stale = strdup(name);
	write_text(stale, "half a file");
	/* Kept: a process that is alive (the parent), one that holds the lock
	 * (a save still writing), names that are not this file's temps. */
	snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)getppid());
	char *alive = strdup(name);
	write_text(alive, "x");
	snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)dead_pid());
	char *locked = strdup(name);
	int hold[2];
	pid_t holder = locking_child(locked, hold);
	snprintf(name, sizeof name, "%s/other.safetensors.tmp.%ld", tmp_dir, (long)dead_pid());
	char *other = strdup(name);
	write_text(other, "x");
	snprintf(name, sizeof name, "%s.tmp.12x", path);
	char *odd = strdup(name);
	write_text(odd, "x");
	/* Rename the lock holder's file to a dead PID's name: only the lock
	 * keeps it now. */
	snprintf(name, sizeof name, "%s.tmp.%ld", path, (long)dead_pid());
	cr_assert_eq(rename(locked, name), 0);
	free(locked);
	locked = strdup(name);

	float x = 1;
	aert_tensor t = {"x", AERT_F32, 0, {0}, &x};
	aert_err err;
	cr_assert_eq(aert_st_save(path, &t, 1, &err), 0, "%s", err.msg);
	cr_assert(!file_exists(stale), "the dead save's temporary file is removed");
	cr_assert(file_exists(alive) && file_exists(locked) && file_exists(other) && file_exists(odd));
	cr_assert_eq(count_entries(tmp_dir), 5);
	/* Once its writer is gone, the locked one goes too. */
	close(hold[1]);
	cr_assert_eq(waitpid(holder, NULL, 0), holder);
	cr_assert_eq(aert_st_save(path, &t, 1, &err), 0, "%s", err.msg);
	cr_assert(!file_exists(locked));
	cr_assert_eq(count_entries(tmp_dir), 4);
	free(stale);
	free(alive);
	free(locked);
	free(other);
	free(odd);
	free(path);
}

/* ---- a model's state ---- */

/* The state of a toy model: two parameters, Adam moments and the step. */
typedef struct toy_state {
	int64_t step;
	int64_t pad[7];
	float p[6], m[6], v[6];
} toy_state;

static void *toy_params(void *s) { return ((toy_state *)s)->p; }
static void *toy_m(void *s) { return ((toy_state *)s)->m; }
static void *toy_v(void *s) { return ((toy_state *)s)->v; }
static int64_t *toy_step(void *s) { return &((toy_state *)s)->step; }

static const aert_param TOY_PARAMS[2] = {
	{"enc.weight", 2, {2, 2}, 0, 4},
	{"enc.bias", 1, {2}, 4, 2},
};

static aert_model toy_model(void)
{
	aert_model m = {0};
	m.name = "toy";
	m.real_size = 4;
	m.state_bytes = sizeof(toy_state);
	m.n_params = 2;
	m.params = TOY_PARAMS;
	m.param_elems = 6;
	m.params_of = toy_params;
	m.adam_m_of = toy_m;
	m.adam_v_of = toy_v;
	m.step_of = toy_step;
	return m;
}

static void toy_fill(toy_state *s, float base)
{
	memset(s, 0, sizeof *s);
	s->step = (int64_t)base;
	for (int i = 0; i < 6; i++) {
		s->p[i] = base + (float)i;
		s->m[i] = base / 10 + (float)i;
		s->v[i] = base / 100 + (float)i;
	}
}

Test(checkpoint, round_trip_with_optimizer)
{
	aert_model m = toy_model();
	toy_state saved, loaded;
	toy_fill(&saved, 7);
	toy_fill(&loaded, 0);
	char *path = tmp_path("ckpt.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &saved, path, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_load_model(&m, &loaded, path, 1, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(&loaded, &saved, sizeof saved);

	/* The names PyTorch code reads. */
	float w[4], vb[2];
	int64_t step = 0;
	aert_tensor t[3] = {{"enc.weight", AERT_F32, 2, {2, 2}, w},
			    {"optimizer.v.enc.bias", AERT_F32, 1, {2}, vb},
			    {"optimizer.step", AERT_I64, 0, {0}, &step}};
	cr_assert_eq(aert_st_load(path, t, 3, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w[3], 10);
	cr_assert_eq(vb[1], 0.07f + 5);
	cr_assert_eq(step, 7);
	free(path);
}

Test(checkpoint, weights_only)
{
	aert_model m = toy_model();
	toy_state saved, loaded;
	toy_fill(&saved, 3);
	toy_fill(&loaded, 1);
	char *path = tmp_path("w.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &saved, path, 0, &err), 0, "%s", err.msg);
	int64_t step;
	aert_tensor t = {"optimizer.step", AERT_I64, 0, {0}, &step};
	cr_assert_eq(aert_st_load(path, &t, 1, NULL, &err), -1, "no optimizer state in a weights file");
	/* Resuming from weights only keeps the Adam state as it was. */
	cr_assert_eq(aert_load_model(&m, &loaded, path, 1, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(loaded.p, saved.p, sizeof saved.p);
	cr_assert_eq(loaded.step, 1);
	cr_assert_eq(loaded.m[0], 0.1f);
	free(path);
}

Test(checkpoint, failed_load_leaves_state_unchanged)
{
	aert_model m = toy_model();
	toy_state state, before;
	toy_fill(&state, 5);
	before = state;
	aert_err err;

	char *missing = tmp_path("nope.safetensors");
	cr_assert_eq(aert_load_model(&m, &state, missing, 1, &err), -1);
	cr_assert_not_null(strstr(err.msg, "cannot open"), "%s", err.msg);

	/* Right weight, wrong bias shape: the weight must not be loaded. */
	float w[4] = {9, 9, 9, 9}, b[3] = {9, 9, 9};
	aert_tensor wrong[2] = {{"enc.weight", AERT_F32, 2, {2, 2}, w}, {"enc.bias", AERT_F32, 1, {3}, b}};
	char *path = tmp_path("w.safetensors");
	cr_assert_eq(aert_st_save(path, wrong, 2, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_load_model(&m, &state, path, 0, &err), -1);
	cr_assert(ends_with(err.msg, ": tensor enc.bias has shape [3], model expects [2]"), "%s", err.msg);
	cr_assert_arr_eq(&state, &before, sizeof state);

	/* Parameters fine, optimizer state incomplete. */
	float m0[4] = {1, 1, 1, 1};
	int64_t step = 99;
	aert_tensor partial[4] = {{"enc.weight", AERT_F32, 2, {2, 2}, w},
				  {"enc.bias", AERT_F32, 1, {2}, b},
				  {"optimizer.m.enc.weight", AERT_F32, 2, {2, 2}, m0},
				  {"optimizer.step", AERT_I64, 0, {0}, &step}};
	cr_assert_eq(aert_st_save(path, partial, 4, &err), 0, "%s", err.msg);
	cr_assert_eq(aert_load_model(&m, &state, path, 1, &err), -1);
	cr_assert(ends_with(err.msg, "incomplete optimizer state: tensor optimizer.m.enc.bias is missing"), "%s",
		  err.msg);
	cr_assert_arr_eq(&state, &before, sizeof state);
	/* The same file gives parameters when the optimizer is not wanted. */
	cr_assert_eq(aert_load_model(&m, &state, path, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(state.p[0], 9);
	cr_assert_eq(state.step, 5);
	free(missing);
	free(path);
}

/* The same model in double precision. */
typedef struct toy_state_d {
	int64_t step;
	int64_t pad[7];
	double p[6], m[6], v[6];
} toy_state_d;

static void *toy_params_d(void *s) { return ((toy_state_d *)s)->p; }
static void *toy_m_d(void *s) { return ((toy_state_d *)s)->m; }
static void *toy_v_d(void *s) { return ((toy_state_d *)s)->v; }
static int64_t *toy_step_d(void *s) { return &((toy_state_d *)s)->step; }

Test(checkpoint, double_model_reads_float_file)
{
	aert_model m = toy_model();
	toy_state f;
	toy_fill(&f, 2);
	f.p[0] = 0.1f;
	char *path = tmp_path("w.safetensors");
	aert_err err;
	cr_assert_eq(aert_save_model(&m, &f, path, 1, &err), 0, "%s", err.msg);
	aert_model md = m;
	md.real_size = 8;
	md.state_bytes = sizeof(toy_state_d);
	md.params_of = toy_params_d;
	md.adam_m_of = toy_m_d;
	md.adam_v_of = toy_v_d;
	md.step_of = toy_step_d;
	toy_state_d d = {0};
	cr_assert_eq(aert_load_model(&md, &d, path, 1, &err), 0, "%s", err.msg);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(d.p[i], (double)f.p[i]);
		cr_assert_eq(d.v[i], (double)f.v[i]);
	}
	cr_assert_eq(d.step, 2);
	free(path);
}
