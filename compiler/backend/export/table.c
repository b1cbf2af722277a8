/* table.c - the export's op table: the ops whose inference form is not
 * simply their C row (backend/c/table.c) in evaluation form, each with
 * what it becomes, or why it has none. Every other op is its C row in
 * evaluation form, as NAME_loss and NAME_forward of a training build
 * compute it. Requires: export.h. Provides: export_refusal(),
 * export_form(). */
#include "export.h"
#include "ops.h"

static const struct {
	const OpDef *op;     /* the op */
	const char *form;    /* what it is at inference, or NULL */
	const char *refused; /* why it has no inference form, or NULL */
} rows[] = {
	{&op_dropout, "the identity", NULL},
	{&op_masking_noise, "the identity", NULL},
	{&op_gaussian_noise, "the identity", NULL},
	{&op_gaussian, "its mean", NULL},
	{&op_bn_stats, "the running statistics", NULL},
	/* In an inference build these appear only where a penalty
	 * differentiates the model (the contractive penalty of an encoder
	 * with noise) and then only in the loss, which score computes. */
	{&op_mask_grad, NULL, "it replays the noise of a training step"},
	{&op_gaussian_dlogvar, NULL, "it replays the sampling of a training step"},
	{&op_adam, NULL, "it is the optimizer's update"},
};

static int row(const OpDef *op)
{
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (rows[i].op == op)
			return (int)i;
	return -1;
}

const char *export_refusal(const OpDef *op)
{
	int i = row(op);
	return i < 0 ? NULL : rows[i].refused;
}

const char *export_form(const OpDef *op)
{
	int i = row(op);
	return i < 0 ? NULL : rows[i].form;
}
