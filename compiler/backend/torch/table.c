/* table.c - the PyTorch backend's op table: for every op the forward graph
 * can hold, the same computation as a PyTorch expression, with
 * torch.nn.functional as F. The forms read the graph as lowering leaves
 * it, before autodiff and fusion. Requires: torch.h, attrs.h. Provides:
 * torch_row(). */
#include "attrs.h"
#include "torch.h"

/* ---- arithmetic (ops/core.c) ---- */

static const char *add_torch(const Node *n, const char *const *in)
{
	(void)n;
	return xasprintf("%s + %s", in[0], in[1]);
}

static const char *sub_torch(const Node *n, const char *const *in)
{
	(void)n;
	return xasprintf("%s - %s", in[0], in[1]);
}

static const char *scale_torch(const Node *n, const char *const *in)
{
	return xasprintf("%.17g * %s", n->fattr[0], in[0]);
}

/* ---- dense, activations, contractive (ops/dense.c, act.c, contractive.c) ---- */

static const char *dense_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.linear(%s, %s, %s)", in[0], in[1], n->iattr[0] ? in[2] : "None");
}

static const char *act_torch(const Node *n, const char *const *in)
{
	switch (n->iattr[0]) {
	case ACT_RELU:
		return xasprintf("torch.relu(%s)", in[0]);
	case ACT_LEAKY:
		return xasprintf("F.leaky_relu(%s, %.17g)", in[0], n->fattr[0]);
	case ACT_SIGMOID:
		return xasprintf("torch.sigmoid(%s)", in[0]);
	default:
		return xasprintf("torch.tanh(%s)", in[0]);
	}
}

/* in[1] is z, in[2] x: the rows of dz/dx by autograd, as the IR builds them. */
static const char *contractive_torch(const Node *n, const char *const *in)
{
	return xasprintf("sum(torch.autograd.grad(%s[:, k].sum(), %s, create_graph=True)[0].pow(2).sum() "
			 "for k in range(%ld))%s", in[1], in[2], n->iattr[1],
			 n->iattr[0] ? xasprintf(" / %s.shape[0]", in[1]) : "");
}

/* ---- losses (ops/loss.c) ---- */

static const char *loss_torch(const Node *n, const char *const *in)
{
	const char *f = n->op == &op_mse ? "mse_loss" : n->iattr[1] ? "binary_cross_entropy_with_logits"
			: "binary_cross_entropy";
	return xasprintf("F.%s(%s, %s, reduction=\"%s\")", f, in[0], in[1], n->iattr[0] ? "mean" : "sum");
}

/* ---- images (ops/conv.c) ---- */

static const char *conv2d_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.conv2d(%s, %s, %s, stride=%ld, padding=%ld)", in[IN_X], in[IN_W],
			 n->iattr[A_BIAS] ? in[IN_B] : "None", n->iattr[A_STRIDE], n->iattr[A_PAD]);
}

static const char *conv_transpose2d_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.conv_transpose2d(%s, %s, %s, stride=%ld, padding=%ld, output_padding=(%ld, %ld))",
			 in[IN_X], in[IN_W], n->iattr[A_BIAS] ? in[IN_B] : "None", n->iattr[A_STRIDE],
			 n->iattr[A_PAD], n->iattr[A_OUTPAD_H], n->iattr[A_OUTPAD_W]);
}

/* The workspace has no counterpart in PyTorch. */
static const char *workspace_torch(const Node *n, const char *const *in)
{
	(void)n;
	(void)in;
	return "None";
}

static const char *flatten_torch(const Node *n, const char *const *in)
{
	(void)n;
	return xasprintf("torch.flatten(%s, 1)", in[0]);
}

static const char *reshape_torch(const Node *n, const char *const *in)
{
	Buf b = {0};
	buf_printf(&b, "%s.reshape(-1", in[0]);
	for (int i = 0; i < n->iattr[0]; i++)
		buf_printf(&b, ", %ld", n->iattr[1 + i]);
	buf_puts(&b, ")");
	return b.data;
}

static const char *maxpool2d_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.max_pool2d(%s, %ld, %ld)", in[0], n->iattr[A_KERNEL], n->iattr[A_STRIDE]);
}

static const char *upsample2d_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.interpolate(%s, scale_factor=%ld, mode=\"nearest\")", in[0], n->iattr[0]);
}

/* ---- stochastic ops (ops/variational.c) ---- */

static const char *gaussian_torch(const Node *n, const char *const *in)
{
	(void)n;
	return xasprintf("(%s + torch.exp(0.5 * %s) * torch.randn_like(%s) if noise else %s)", in[0], in[1], in[0],
			 in[0]);
}

static const char *kl_normal_torch(const Node *n, const char *const *in)
{
	const char *sum = xasprintf("torch.sum(1 + %s - %s.pow(2) - torch.exp(%s))", in[1], in[0], in[1]);
	switch (n->iattr[0]) {
	case KL_MEAN:
		return xasprintf("-0.5 * %s / %s.numel()", sum, in[0]);
	case KL_BATCHMEAN:
		return xasprintf("-0.5 * %s / %s.shape[0]", sum, in[0]);
	default:
		return xasprintf("-0.5 * %s", sum);
	}
}

static const char *gaussian_noise_torch(const Node *n, const char *const *in)
{
	return xasprintf("(%s + %.17g * torch.randn_like(%s) if noise else %s)", in[0], n->fattr[0], in[0], in[0]);
}

static const char *clamp_torch(const Node *n, const char *const *in)
{
	return xasprintf("torch.clamp(%s, %.17g, %.17g)", in[0], n->fattr[0], n->fattr[1]);
}

static const char *masking_torch(const Node *n, const char *const *in)
{
	return xasprintf("(%s * (torch.rand_like(%s) >= %.17g).to(%s.dtype) if noise else %s)", in[0], in[0],
			 n->fattr[0], in[0], in[0]);
}

static const char *dropout_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.dropout(%s, %.17g, training=noise)", in[0], n->fattr[0]);
}

/* ---- sparsity, top-k, concat (ops/sparse.c) ---- */

static const char *l1_torch(const Node *n, const char *const *in)
{
	return xasprintf("torch.abs(%s).%s()", in[0], n->iattr[0] ? "mean" : "sum");
}

static const char *kl_sparsity_torch(const Node *n, const char *const *in)
{
	double rho = n->fattr[0];
	return xasprintf("(lambda r: (%.17g * torch.log(%.17g / r) + %.17g * torch.log(%.17g / (1 - r))).sum())"
			 "(%s.mean(0).clamp(%g, 1 - %g))",
			 rho, rho, 1 - rho, 1 - rho, in[0], KL_CLAMP, KL_CLAMP);
}

static const char *topk_torch(const Node *n, const char *const *in)
{
	return xasprintf("torch.zeros_like(%s).scatter(1, torch.topk(%s, %ld, dim=1).indices, "
			 "torch.topk(%s, %ld, dim=1).values)",
			 in[0], in[0], n->iattr[0], in[0], n->iattr[0]);
}

static const char *concat_torch(const Node *n, const char *const *in)
{
	Buf b = {0};
	buf_puts(&b, "torch.cat([");
	for (int i = 0; i < n->nin; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", in[i]);
	buf_puts(&b, "], dim=1)");
	return b.data;
}

/* ---- batch normalization (ops/norm.c) ---- */

static const char *batchnorm_torch(const Node *n, const char *const *in)
{
	return xasprintf("F.batch_norm(%s, %s[0], %s[1], %s, %s, training=training, momentum=%.17g, eps=%.17g)",
			 in[0], in[1], in[1], in[2], in[3], n->fattr[F_MOMENTUM], n->fattr[F_EPS]);
}

/* F.batch_norm reads the running statistics, and in training updates them
 * in place, so in PyTorch the statistics are the buffers themselves. */
static const char *bn_stats_torch(const Node *n, const char *const *in)
{
	(void)n;
	return xasprintf("(%s, %s)", in[1], in[2]);
}

/* ---- the table, in OP_LIST order ---- */

static const TorchRow rows[] = {
	{&op_add, add_torch, 0},
	{&op_sub, sub_torch, 0},
	{&op_scale, scale_torch, 0},
	{&op_dense, dense_torch, 0},
	{&op_relu, act_torch, 0},
	{&op_leaky_relu, act_torch, 0},
	{&op_sigmoid, act_torch, 0},
	{&op_tanh, act_torch, 0},
	{&op_contractive, contractive_torch, 1},
	{&op_mse, loss_torch, 0},
	{&op_bce, loss_torch, 0},
	{&op_conv2d, conv2d_torch, 0},
	{&op_conv_transpose2d, conv_transpose2d_torch, 0},
	{&op_conv_workspace, workspace_torch, 0},
	{&op_flatten, flatten_torch, 0},
	{&op_reshape, reshape_torch, 0},
	{&op_maxpool2d, maxpool2d_torch, 0},
	{&op_upsample2d, upsample2d_torch, 0},
	{&op_gaussian, gaussian_torch, 0},
	{&op_kl_normal, kl_normal_torch, 0},
	{&op_gaussian_noise, gaussian_noise_torch, 0},
	{&op_clamp, clamp_torch, 0},
	{&op_masking_noise, masking_torch, 0},
	{&op_dropout, dropout_torch, 0},
	{&op_l1, l1_torch, 0},
	{&op_kl_sparsity, kl_sparsity_torch, 0},
	{&op_topk, topk_torch, 0},
	{&op_concat, concat_torch, 0},
	{&op_batchnorm, batchnorm_torch, 0},
	{&op_bn_stats, bn_stats_torch, 0},
};

const TorchRow *torch_row(const OpDef *op)
{
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
		if (rows[i].op == op)
			return &rows[i];
	return NULL;
}
