/* graph.h - the static graph IR.
 *
 * A Graph is a list of Nodes in topological order: a node's inputs always
 * come before it, so walking `nodes` front to back is a valid schedule.
 * Every value has a static shape. A value is either per-sample (`batched`:
 * a leading batch dimension n, known only at run time, up to max_batch,
 * precedes the static dims) or whole (parameters, their gradients, losses).
 *
 * The gradient built by autodiff is made of ordinary nodes in the same
 * graph, so later passes (fusion, planning, emission) and autodiff itself
 * treat it like any other code. */
#ifndef AECC_GRAPH_H
#define AECC_GRAPH_H

#include "util.h"

#define MAX_RANK 4
#define MAX_IN 8
#define MAX_ATTR 8

typedef struct OpDef OpDef;
typedef struct Node Node;

/* The static part of a value's shape. */
typedef struct Shape {
	int rank;           /* number of static dims, 0 for a scalar */
	int dims[MAX_RANK]; /* static dims, outermost first */
	int batched;        /* 1: a run-time batch dim n precedes dims */
} Shape;

/* What a node's buffer is and where it lives. */
typedef enum Storage {
	ST_WORK,  /* scratch in the work arena, planned by plan.c */
	ST_INPUT, /* caller's input array */
	ST_PARAM, /* parameter block of the state */
	ST_BUFFER, /* buffer block of the state, read-only to ops (see Buffer) */
	ST_GRAD,  /* a parameter's gradient: the gradient block, laid out as the
	             parameter block (Node.index: the parameter), which is the
	             caller's in NAME_gradient and part of the work arena in the
	             train step (plan.c) */
	ST_NONE,  /* no value (side-effect nodes such as the Adam update) */
} Storage;

/* Which part of the model a node belongs to (entry.c): the entry points
 * compute runs of them. 0: no code (inputs, parameters, buffers). */
enum {
	PART_ENCODER = 1, /* what the latent needs */
	PART_DECODER,     /* what the output needs beyond the encoder */
	PART_LOSS,        /* what the loss needs beyond both */
	PART_BACKWARD,    /* the gradient */
	PART_UPDATE,      /* the optimizer */
};

/* Which phase built the node; used by dumps and by the emitter to decide
 * what a function that only runs the model (no training) needs. */
typedef enum Phase {
	PH_FORWARD,  /* the model and its losses */
	PH_BACKWARD, /* built by autodiff */
	PH_UPDATE,   /* optimizer */
} Phase;

struct Node {
	int id;              /* index in Graph.nodes at creation; stable name tN */
	const OpDef *op;     /* what the node computes (ops.h) */
	int nin;             /* number of inputs */
	Node *in[MAX_IN];    /* inputs, each earlier in the graph */
	Shape shape;         /* shape of the result */
	long iattr[MAX_ATTR];   /* integer attributes, meaning per op */
	double fattr[MAX_ATTR]; /* real attributes, meaning per op */
	const char *name;    /* user-visible name (value, parameter), or NULL */
	const char *layer;   /* "encoder.2": the layer a forward node belongs to */
	Node *expansion_of;  /* set on the nodes an op expanded into (the
	                        contractive penalty's Jacobian rows): that op's
	                        PyTorch form stands for them */
	Node *computes;      /* fuse.c: a later node whose value this node's
	                        kernel writes too, in the same pass over their
	                        shared inputs (in the train step and gradient) */
	Node *computed_by;   /* fuse.c: the node just before it whose kernel
	                        writes this node's value; it emits nothing there */
	Loc loc;             /* source position that produced the node */
	Phase phase;         /* which pass built it */
	Storage storage;     /* where the value lives */
	int index;           /* ST_INPUT: input number; ST_PARAM: parameter number;
	                        ST_BUFFER: buffer number */
	int needs_grad;      /* depends on a parameter: autodiff walks it */
	Node *grad;          /* autodiff: the gradient accumulated so far */
	Node *grad_of;       /* autodiff: the value this node is (a term of) the
	                        gradient of, or NULL; for names in generated code */
	int part;            /* entry.c: PART_*, or 0 */
	int dead;            /* removed by a pass; skipped everywhere */
	int nuses;           /* live nodes that read this one (graph_count_uses) */
	/* Memory plan (plan.c). */
	size_t offset;       /* byte offset in the work arena (ST_WORK) */
	size_t bytes;        /* bytes at max_batch (ST_WORK) */
	int first, last;     /* schedule positions of definition and last use */
};

/* How NAME_init fills a parameter. */
typedef enum ParamInit {
	INIT_UNIFORM,  /* uniform in +-1/sqrt(fan_in), as nn.Linear (the default) */
	INIT_CONSTANT, /* every element Param.init_value (BatchNorm's 1 and 0) */
} ParamInit;

/* A trainable tensor. Its values live in the parameter block of the state,
 * in declaration order; the Adam moments mirror that layout. */
typedef struct Param {
	const char *name;  /* PyTorch-style "encoder.0.weight" */
	Shape shape;       /* PyTorch layout (a dense weight is [out, in]) */
	size_t offset;     /* element offset in the parameter block */
	long fan_in;       /* for the default initialisation bound 1/sqrt(fan_in) */
	ParamInit init;    /* how it starts (graph_param sets INIT_UNIFORM) */
	double init_value; /* INIT_CONSTANT: the value */
	Node *node;        /* the ST_PARAM node that reads it */
	Loc loc;           /* the layer that declared it */
} Param;

/* How a buffer changes. Buffers change only in the train step, never
 * through an op: ops read them (ST_BUFFER nodes) and the emitter stores
 * their new values. */
typedef enum BufferKind {
	BUF_RUNNING, /* reals: after `next` is computed in a train step, its
	                elements from next_offset on become the buffer's values */
	BUF_COUNTER, /* one int64_t: plus one in every train step */
} BufferKind;

/* Persistent state that is not trained, as PyTorch's module buffers
 * (BatchNorm's running_mean, running_var, num_batches_tracked). Reals live
 * in the state's buffer block, counters in the counter block after it,
 * each in declaration order; saved and loaded with the parameters. */
typedef struct Buffer {
	const char *name;  /* PyTorch-style "encoder.1.running_mean" */
	Shape shape;       /* PyTorch shape; a counter is a scalar [] */
	BufferKind kind;   /* how it changes, and its element type */
	size_t offset;     /* element offset in its block (reals or counters) */
	size_t byte_offset; /* plan.c: bytes from the start of the buffers */
	double init;       /* every element's value after NAME_init */
	Node *node;        /* BUF_RUNNING: the ST_BUFFER node that reads it */
	Node *next;        /* BUF_RUNNING: the node whose value holds the update */
	size_t next_offset; /* element of next's value where the update starts */
	Loc loc;           /* the layer that declared it */
} Buffer;

/* A model input. */
typedef struct GInput {
	const char *name;  /* as declared in the .ae file */
	Shape shape;       /* per-sample shape (batched) */
	Node *node;        /* the ST_INPUT node */
	Loc loc;           /* the declaration */
} GInput;

/* A term of the loss: the loss is the sum of weight * node over its terms
 * (`bce(xhat, x) + 4 * kl_normal(mu, logvar)`: bce with weight 1,
 * kl_normal with 4), reported one by one by the trainer. */
typedef struct LossTerm {
	const char *name;  /* the value's name, or its op's ("bce"), made unique */
	double weight;     /* the constant it is scaled by in the loss */
	Node *node;        /* its value, a scalar */
} LossTerm;

typedef struct Graph {
	Vec nodes;        /* Node*, topological order */
	Vec params;       /* Param*, declaration order */
	Vec buffers;      /* Buffer*, declaration order */
	Vec inputs;       /* GInput*, declaration order */
	Node *loss;       /* the scalar training objective */
	Node *latent;     /* the encoder's result (last encoder statement) */
	Node *output;     /* the decoder's result (last decoder statement) */
	Vec terms;        /* LossTerm*: the loss as a weighted sum, in source order */
	size_t param_elems; /* total parameter elements */
	size_t buffer_elems;  /* total elements of BUF_RUNNING buffers */
	size_t counter_elems; /* number of BUF_COUNTER buffers */
} Graph;

Graph *graph_new(void);
/* Append a node computing `op` of the inputs; the shape is inferred by the
 * op's shape rule, which may report a diagnostic at `loc` and return 0. */
Node *graph_add(Graph *g, const OpDef *op, Loc loc, int nin, Node **in);
Node *graph_add1(Graph *g, const OpDef *op, Loc loc, Node *a);
Node *graph_add2(Graph *g, const OpDef *op, Loc loc, Node *a, Node *b);
Node *graph_add3(Graph *g, const OpDef *op, Loc loc, Node *a, Node *b, Node *c);
Param *graph_param(Graph *g, const char *name, Shape shape, long fan_in, Loc loc);
GInput *graph_input(Graph *g, const char *name, Shape shape, Loc loc);
/* Declare a buffer filled with `init`; a BUF_RUNNING buffer gets its
 * ST_BUFFER node (the caller sets `next` once the update is built). */
Buffer *graph_buffer(Graph *g, const char *name, Shape shape, BufferKind kind, double init, Loc loc);
/* Every node indexed by id: the order in which the source built them
 * (fusion may move nodes in the schedule: fuse.c). A new array. */
Node **graph_source_order(const Graph *g);
/* The first live node of op in graph order, or NULL. */
Node *graph_first(const Graph *g, const OpDef *op);
/* Recount Node.nuses over live nodes. */
void graph_count_uses(Graph *g);
/* Make every reader of `from` (nodes, gradients, buffer updates, the
 * model's results) read `to` instead. */
void graph_replace_uses(Graph *g, Node *from, Node *to);

size_t shape_elems(Shape s);  /* static elements (per sample if batched) */
Shape shape_make(int batched, int rank, const int *dims);
Shape shape_vec(int batched, int n); /* rank-1 shape */
Shape shape_scalar(void);
int shape_eq(Shape a, Shape b);
/* "[n, 784]" style text for messages and dumps; returns a new string. */
char *shape_str(Shape s);

/* Dump the live graph as text or Graphviz dot. */
void graph_dump(FILE *out, Graph *g);
void graph_dot(FILE *out, Graph *g);

#endif
