/* torch.h - inside the PyTorch backend: its op table (table.c), which
 * torch.c reads to write NAME_torch.py. Requires: ops.h. Provides: the
 * rows. */
#ifndef AECC_BACKEND_TORCH_H
#define AECC_BACKEND_TORCH_H

#include "ops.h"

/* One op's PyTorch form. */
typedef struct TorchRow {
	const OpDef *op; /* the op */
	/* The same computation as a PyTorch expression of the inputs' Python
	 * names `in`, for a node as lowering leaves it (no fused attributes).
	 * The expression may read the Python booleans `training` (train step,
	 * not evaluation) and `noise` (random parts on). */
	const char *(*form)(const Node *n, const char *const *in);
	int input_grad;  /* the form differentiates with respect to model inputs */
} TorchRow;

/* The row of op, or NULL: the leaves (input, param, buffer), which
 * torch.c names itself, and the ops only autodiff creates have none. */
const TorchRow *torch_row(const OpDef *op);

#endif
