/* test_graph.c - lowering (names, shapes, parameter naming), config,
 * autodiff and memory planning, through the real pipeline. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "pipeline.h"

/* Write text to a fresh file and run the pipeline up to `stop`. */
static Model *compile_to(const char *text, int stop)
{
	char path[] = "/tmp/aecc-test-XXXXXX.ae";
	int fd = mkstemps(path, 3);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	Options opt = {.stop_after = stop};
	return pipeline_run(xstrdup(path), &opt);
}

static Model *compile(const char *text) { return compile_to(text, PASS_ALL); }

static const char *dense3 =
	"model m\ninput x[20]\n"
	"encoder { h = x |> dense(16) |> relu\n z = h |> dense(4) }\n"
	"decoder { xhat = z |> dense(16) |> tanh |> dense(20) |> sigmoid }\n"
	"loss = mse(xhat, x)\n"
	"train { adam(lr = 2e-3, betas = (0.8, 0.99), eps = 1e-7, weight_decay = 0.01) batch 32 epochs 3 seed 9 }\n";

static Param *param(Graph *g, int i) { return g->params.data[i]; }

static int count_op(Graph *g, const OpDef *op)
{
	int k = 0;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		k += !n->dead && n->op == op;
	}
	return k;
}

Test(lower, parameter_names_follow_sequential_numbering)
{
	Model *m = compile_to(dense3, PASS_LOWER);
	cr_assert_not_null(m);
	const char *want[] = {"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
			      "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"};
	cr_assert_eq(m->g->params.len, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_str_eq(param(m->g, i)->name, want[i]);
}

Test(lower, shapes_use_pytorch_layout)
{
	Model *m = compile_to(dense3, PASS_LOWER);
	Param *w = param(m->g, 0);
	cr_assert_eq(w->shape.rank, 2);
	cr_assert_eq(w->shape.dims[0], 16);
	cr_assert_eq(w->shape.dims[1], 20);
	cr_assert_eq(w->fan_in, 20);
	cr_assert_eq(param(m->g, 1)->shape.dims[0], 16);
	cr_assert_eq(m->g->param_elems, (size_t)(16 * 20 + 16 + 4 * 16 + 4 + 16 * 4 + 16 + 20 * 16 + 20));
	cr_assert_eq(param(m->g, 2)->offset, (size_t)(16 * 20 + 16));
}

Test(lower, results_and_shapes)
{
	Model *m = compile_to(dense3, PASS_LOWER);
	Graph *g = m->g;
	cr_assert(shape_eq(g->latent->shape, shape_vec(1, 4)));
	cr_assert(shape_eq(g->output->shape, shape_vec(1, 20)));
	cr_assert(shape_eq(g->loss->shape, shape_scalar()));
	cr_assert_eq(g->output->op, &op_sigmoid);
	cr_assert_str_eq(g->latent->name, "z");
}

Test(lower, bias_false_declares_only_a_weight)
{
	Model *m = compile_to("model m\ninput x[5]\nencoder { z = x |> dense(3, bias = false) }\n"
			      "decoder { xhat = z |> dense(5) }\nloss = mse(xhat, x)\n", PASS_LOWER);
	cr_assert_eq(m->g->params.len, 3);
	cr_assert_str_eq(param(m->g, 1)->name, "decoder.0.weight");
}

Test(lower, identity_adds_no_node)
{
	Model *m = compile_to("model m\ninput x[5]\nencoder { z = x |> dense(3) |> identity }\n"
			      "decoder { xhat = z |> dense(5) }\nloss = mse(xhat, x)\n", PASS_LOWER);
	cr_assert_eq(m->g->latent->op, &op_dense);
}

Test(lower, weighted_losses)
{
	Model *m = compile_to("model m\ninput x[5]\nencoder { z = x |> dense(3) }\n"
			      "decoder { xhat = z |> dense(5) |> sigmoid }\n"
			      "loss = 0.5 * mse(xhat, x) + bce(xhat, x, reduction = \"sum\") / 4\n", PASS_LOWER);
	Node *l = m->g->loss;
	cr_assert_eq(l->op, &op_add);
	cr_assert_eq(l->in[0]->op, &op_scale);
	cr_assert_float_eq(l->in[0]->fattr[0], 0.5, 1e-15);
	cr_assert_float_eq(l->in[1]->fattr[0], 0.25, 1e-15);
	cr_assert_eq(l->in[1]->in[0]->iattr[0], 0, "sum reduction");
}

Test(lower, shape_mismatch_is_an_error, .init = cr_redirect_stderr)
{
	Model *m = compile("model m\ninput x[5]\nencoder { z = x |> dense(3) }\n"
			   "decoder { xhat = z |> dense(4) }\nloss = mse(xhat, x)\n");
	cr_assert_null(m);
	fflush(stderr);
	cr_assert_stderr_neq_str("");
}

Test(config, settings_and_defaults)
{
	Model *m = compile_to(dense3, PASS_LOWER);
	cr_assert_float_eq(m->train.lr, 2e-3, 1e-18);
	cr_assert_float_eq(m->train.beta1, 0.8, 1e-15);
	cr_assert_float_eq(m->train.beta2, 0.99, 1e-15);
	cr_assert_float_eq(m->train.eps, 1e-7, 1e-20);
	cr_assert_float_eq(m->train.weight_decay, 0.01, 1e-15);
	cr_assert_eq(m->train.batch, 32);
	cr_assert_eq(m->train.epochs, 3);
	cr_assert_eq(m->train.seed, 9u);
	Model *d = compile_to("model m\ninput x[5]\nencoder { z = x |> dense(3) }\n"
			      "decoder { xhat = z |> dense(5) }\nloss = mse(xhat, x)\n", PASS_LOWER);
	cr_assert_float_eq(d->train.lr, 1e-3, 1e-18);
	cr_assert_float_eq(d->train.beta2, 0.999, 1e-15);
	cr_assert_eq(d->train.batch, 64);
}

Test(config, data_paths_resolve_against_the_model_file)
{
	Model *m = compile_to("model m\ninput x[5]\nencoder { z = x |> dense(3) }\n"
			      "decoder { xhat = z |> dense(5) }\nloss = mse(xhat, x)\n"
			      "data { train = idx(\"d/train.idx\") / 255  test = csv(\"/abs/t.csv\") * 2 }\n", PASS_LOWER);
	cr_assert_str_eq(m->train_data[0].path, "/tmp/d/train.idx");
	cr_assert_str_eq(m->train_data[0].format, "idx");
	cr_assert_float_eq(m->train_data[0].scale, 1 / 255.0, 1e-18);
	cr_assert_str_eq(m->test_data[0].path, "/abs/t.csv");
	cr_assert_float_eq(m->test_data[0].scale, 2, 1e-18);
}

Test(config, training_controls)
{
	const char *head = "model m\ninput x[5]\nencoder { z = x |> dense(3) }\n"
			   "decoder { xhat = z |> dense(5) }\nloss = mse(xhat, x)\n";
	Model *m = compile_to(xasprintf("%strain { schedule = plateau(patience = 2)  early_stop()  validate 0.2 }\n", head),
			      PASS_LOWER);
	cr_assert_not_null(m);
	const Schedule *s = &m->train.schedule;
	cr_assert_eq(s->kind, SCHED_PLATEAU);
	cr_assert_eq(s->patience, 2);
	cr_assert_float_eq(s->factor, 0.1, 1e-18, "PyTorch's default factor");
	cr_assert_float_eq(s->threshold, 1e-4, 1e-18);
	cr_assert_eq(m->train.early_stop, 1);
	cr_assert_eq(m->train.patience, 3, "early_stop's default patience");
	cr_assert_float_eq(m->train.min_delta, 0, 1e-18);
	cr_assert_float_eq(m->train.validate, 0.2, 1e-18);

	m = compile_to(xasprintf("%strain { schedule cosine }\ndata { train = idx(\"a\")  validation = idx(\"b\") }\n", head),
		       PASS_LOWER);
	cr_assert_not_null(m);
	cr_assert_eq(m->train.schedule.kind, SCHED_COSINE);
	cr_assert_float_eq(m->train.schedule.min_lr, 0, 1e-18);
	cr_assert_str_eq(m->validation_data[0].path, "/tmp/b");
	cr_assert_eq(m->train.early_stop, 0);

	m = compile_to(xasprintf("%strain { schedule = step(every = 4, factor = 0.5) }\n", head), PASS_LOWER);
	cr_assert_eq(m->train.schedule.kind, SCHED_STEP);
	cr_assert_eq(m->train.schedule.every, 4);
	cr_assert_float_eq(m->train.schedule.factor, 0.5, 1e-18);
	m = compile_to(head, PASS_LOWER);
	cr_assert_eq(m->train.schedule.kind, SCHED_NONE);
	cr_assert_float_eq(m->train.validate, 0, 1e-18);
}

static LossTerm *term(Graph *g, int i) { return g->terms.data[i]; }

Test(lower, loss_terms_with_their_weights)
{
	Model *m = compile_to("model m\ninput x[5]\nencoder { h = x |> dense(4)\n z = h |> dense(3)\n pen = l1(z) }\n"
			      "decoder { xhat = h |> dense(5) |> sigmoid }\n"
			      "loss = 0.5 * (mse(xhat, x) - 2 * bce(xhat, x) / 4) + pen + mse(xhat, x) - -pen\n",
			      PASS_LOWER);
	cr_assert_not_null(m);
	Graph *g = m->g;
	cr_assert_eq(g->terms.len, 4);
	const char *names[4] = {"mse", "bce", "pen", "mse_2"};
	const double weights[4] = {0.5, -0.25, 2, 1};
	for (int i = 0; i < 4; i++) {
		cr_assert_str_eq(term(g, i)->name, names[i]);
		cr_assert_float_eq(term(g, i)->weight, weights[i], 1e-15, "%s", names[i]);
		cr_assert_eq(term(g, i)->node->shape.rank, 0);
	}
	cr_assert_eq(term(g, 0)->node->op, &op_mse);
	cr_assert_eq(term(g, 1)->node->op, &op_bce);
	cr_assert_eq(term(g, 2)->node->op, &op_l1, "a named value keeps its name");
	m = compile_to(dense3, PASS_LOWER);
	cr_assert_eq(m->g->terms.len, 1);
	cr_assert_eq(term(m->g, 0)->node, m->g->loss, "one term: the loss itself");
	cr_assert_float_eq(term(m->g, 0)->weight, 1, 1e-18);
}

/* Every parameter gets exactly one adam node whose gradient has its shape. */
Test(grad, one_update_per_parameter)
{
	Model *m = compile_to(dense3, PASS_GRAD);
	Graph *g = m->g;
	cr_assert_eq(count_op(g, &op_adam), g->params.len);
	for (int i = 0; i < g->params.len; i++) {
		Param *p = param(g, i);
		cr_assert_not_null(p->node->grad, "%s has no gradient", p->name);
		cr_assert(shape_eq(p->node->grad->shape, p->shape), "%s", p->name);
		cr_assert_eq(p->node->grad->phase, PH_BACKWARD);
	}
}

Test(grad, inputs_get_no_gradient)
{
	Model *m = compile_to(dense3, PASS_GRAD);
	GInput *x = m->g->inputs.data[0];
	cr_assert_null(x->node->grad);
	cr_assert_eq(x->node->needs_grad, 0);
	/* The first layer's input gradient is never built. */
	for (int i = 0; i < m->g->nodes.len; i++) {
		Node *n = m->g->nodes.data[i];
		if (n->op == &op_dense_dx)
			cr_assert_neq(n->shape.dims[0], 20);
	}
}

Test(grad, two_uses_accumulate)
{
	Model *m = compile_to("model m\ninput x[6]\nencoder { h = x |> dense(4)\n z = h + h }\n"
			      "decoder { xhat = z |> dense(6) }\nloss = mse(xhat, x)\n", PASS_GRAD);
	Graph *g = m->g;
	Node *h = NULL;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *n = g->nodes.data[i];
		if (n->name && !strcmp(n->name, "h"))
			h = n;
	}
	cr_assert_not_null(h);
	cr_assert_eq(h->grad->op, &op_add, "the gradient of h sums both uses");
}

/* No two values that are live at the same time share bytes. */
Test(plan, live_values_do_not_overlap)
{
	Model *m = compile(dense3);
	Graph *g = m->g;
	size_t top = 0;
	for (int i = 0; i < g->nodes.len; i++) {
		Node *a = g->nodes.data[i];
		if (a->dead || a->storage != ST_WORK)
			continue;
		cr_assert_eq(a->offset % 64, 0u);
		cr_assert(a->bytes > 0);
		if (a->offset + a->bytes > top)
			top = a->offset + a->bytes;
		for (int j = i + 1; j < g->nodes.len; j++) {
			Node *b = g->nodes.data[j];
			if (b->dead || b->storage != ST_WORK)
				continue;
			int time = a->last >= b->first && b->last >= a->first;
			int mem = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
			cr_assert(!(time && mem), "t%d and t%d overlap", a->id, b->id);
		}
	}
	cr_assert_eq(top, m->work_bytes);
	cr_assert(m->work_bytes < m->work_bytes_unplanned, "planning reuses memory");
}

Test(plan, results_live_to_the_end)
{
	Model *m = compile(dense3);
	int last = 0;
	for (int i = 0; i < m->g->nodes.len; i++) {
		Node *n = m->g->nodes.data[i];
		if (!n->dead && n->last > last)
			last = n->last;
	}
	cr_assert_eq(m->g->loss->last, last);
	cr_assert_eq(m->g->latent->last, last);
	cr_assert_eq(m->g->output->last, last);
}

Test(fuse, dead_values_are_removed)
{
	/* u feeds neither the loss nor a result: it is marked dead. */
	Model *m = compile_to("model m\ninput x[6]\nencoder { z = x |> dense(4) }\n"
			      "decoder { u = z |> relu\n xhat = z |> dense(6) }\nloss = mse(xhat, x)\n", PASS_ALL);
	cr_assert_not_null(m);
	for (int i = 0; i < m->g->nodes.len; i++) {
		Node *n = m->g->nodes.data[i];
		if (n->op == &op_relu)
			cr_assert(n->dead);
	}
}
