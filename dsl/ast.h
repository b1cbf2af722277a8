/* ast.h - the syntax tree the parser builds from a .ae file.
 *
 * The tree is deliberately generic: every layer, activation, loss, latent
 * and noise is a call (`dense(512)`, `relu`, `mse(xhat, x)`), so new ops
 * enter the language through the compiler's op table, not the grammar.
 * `a |> f(b)` is stored as the call f(a, b) with `piped` set; a bare name
 * on the right of `|>` (`|> relu`) is the call relu(a).
 *
 * File structure (see docs/language.md for the full reference):
 *   model NAME
 *   input NAME[d0, d1, ...]            (one or more)
 *   encoder { NAME = expr ... }
 *   decoder { NAME = expr ... }
 *   loss = expr
 *   train { adam(lr = 1e-3)  batch 128  epochs 10  seed 1 }
 *   data  { train = idx("file") / 255  test = idx("file") / 255 }
 */
#ifndef AECC_AST_H
#define AECC_AST_H

#include "../compiler/util.h"

typedef enum ExprKind {
	EX_NUM,   /* numeric literal: num (is_int says it had no '.' or exponent) */
	EX_STR,   /* string literal: str (escapes already decoded) */
	EX_NAME,  /* identifier: str */
	EX_CALL,  /* call: str is the callee, args the arguments */
	EX_BINOP, /* lhs op rhs, op is one of + - * / */
	EX_NEG,   /* -lhs */
	EX_TUPLE, /* (a, b, ...): args holds the elements (all positional) */
} ExprKind;

typedef struct Expr Expr;

/* One argument of a call, or one element of a tuple. */
typedef struct Arg {
	const char *key;  /* keyword (`lr` in lr = 1e-3), NULL if positional */
	Expr *val;        /* the value */
	Loc loc;          /* where the argument starts (the key if any) */
	struct Arg *next; /* next argument in source order */
} Arg;

struct Expr {
	ExprKind kind; /* which of the forms above */
	Loc loc;       /* first character; for EX_BINOP the operator */
	double num;    /* EX_NUM value */
	int is_int;    /* EX_NUM written without '.', exponent: usable as an integer */
	const char *text; /* EX_NUM literal as written (`1e-3`), for ast_print */
	const char *str; /* EX_STR text, EX_NAME name, EX_CALL callee name */
	int op;        /* EX_BINOP: '+', '-', '*' or '/' */
	Expr *lhs;     /* EX_BINOP left, EX_NEG operand */
	Expr *rhs;     /* EX_BINOP right */
	Arg *args;     /* EX_CALL arguments, EX_TUPLE elements, in order */
	int nargs;     /* length of args */
	int piped;     /* EX_CALL made by `|>`: args->val is the piped value */
	int bare;      /* EX_CALL written without parentheses (`|> relu`) */
};

/* An item inside a block, or a top-level `loss = expr`.
 *   NAME = expr        key = NAME, has_eq = 1
 *   NAME expr          key = NAME, has_eq = 0   (batch 128)
 *   call(...)          key = NULL               (adam(lr = 1e-3))  */
typedef struct Stmt {
	const char *key;   /* the name on the left, or NULL for a bare call */
	Loc key_loc;       /* position of key (or of the call) */
	int has_eq;        /* written with '=' */
	Expr *value;       /* the right-hand side or the bare call */
	struct Stmt *next; /* next statement in the block */
} Stmt;

/* An input declaration: input NAME[d0, d1, ...]. */
typedef struct Input {
	const char *name;   /* the input's name */
	Loc loc;            /* position of the name */
	int rank;           /* number of dimensions, 1..4 */
	long dims[4];       /* per-sample sizes */
	Loc dim_loc[4];     /* position of each size, for diagnostics */
	struct Input *next; /* next input in declaration order */
} Input;

typedef enum BlockKind {
	BLK_ENCODER, /* encoder { NAME = expr ... } */
	BLK_DECODER, /* decoder { NAME = expr ... } */
	BLK_TRAIN,   /* train { ... } */
	BLK_DATA,    /* data { ... } */
} BlockKind;

typedef struct Block {
	BlockKind kind;     /* which block */
	Loc loc;            /* position of the keyword */
	Stmt *stmts;        /* its items in source order */
	struct Block *next; /* next block in source order */
} Block;

/* A whole .ae file. */
typedef struct Program {
	const char *file;   /* path of the .ae file */
	const char *model;  /* model NAME */
	Loc model_loc;      /* position of NAME */
	Input *inputs;      /* input declarations in order */
	Block *blocks;      /* encoder, decoder, train, data blocks in order */
	Stmt *losses;       /* top-level `loss = expr` statements (normally one) */
} Program;

/* Parse the file `path` whose contents are `text` (registered with the
 * diagnostics printer by the caller). Returns NULL after reporting errors
 * through diag_error(); syntax errors never abort the process. */
Program *parse_program(const char *path, const char *text);

/* Print the tree back as .ae text (used by `aecc fmt` and by tests). */
void ast_print(FILE *out, const Program *p);

#endif
