/* ast.c - the nodes of ast.h: constructors for the parser's actions,
 * parse_program(), and ast_print(), which writes a tree back as .ae text.
 *
 * Each constructor is preceded by the grammar rules (parser.y) that call
 * it. Lists reach the constructors newest first; the node that owns a list
 * puts it back in source order. */
#include <stdint.h>
#include <string.h>

#include "parser.h"
#include "lexer.h"

enum { MAX_INPUT_RANK = 4 };

/* Reverse a list chained through `next`, returning the new head. */
#define DEFINE_REVERSE(name, T)                  \
	static T *name(T *list)                  \
	{                                        \
		T *rev = NULL;                   \
		while (list) {                   \
			T *next = list->next;    \
			list->next = rev;        \
			rev = list;              \
			list = next;             \
		}                                \
		return rev;                      \
	}

DEFINE_REVERSE(reverse_args, Arg)
DEFINE_REVERSE(reverse_stmts, Stmt)
DEFINE_REVERSE(reverse_inputs, Input)
DEFINE_REVERSE(reverse_blocks, Block)

static Expr *new_expr(ExprKind kind, Loc loc)
{
	Expr *e = xcalloc(1, sizeof *e);
	e->kind = kind;
	e->loc = loc;
	return e;
}

/* ---- expressions ---- */

/* NUMBER (made by the scanner; text is the literal as written) */
Expr *ast_num(Loc loc, double num, int is_int, const char *text)
{
	Expr *e = new_expr(EX_NUM, loc);
	e->num = num;
	e->is_int = is_int;
	e->text = text;
	return e;
}

/* primary: STRING
 * value:   STRING */
Expr *ast_str(Loc loc, const char *s)
{
	Expr *e = new_expr(EX_STR, loc);
	e->str = s;
	return e;
}

/* primary: IDENT
 * value:   IDENT */
Expr *ast_name(Loc loc, const char *name)
{
	Expr *e = new_expr(EX_NAME, loc);
	e->str = name;
	return e;
}

/* call:   IDENT '(' args ')'
 * callee: IDENT                 (bare: `|> relu`) */
Expr *ast_call(Loc loc, const char *callee, Arg *args_rev, int bare)
{
	Expr *e = new_expr(EX_CALL, loc);
	e->str = callee;
	e->args = reverse_args(args_rev);
	for (const Arg *a = e->args; a; a = a->next)
		e->nargs++;
	e->bare = bare;
	return e;
}

/* expr: expr '|>' callee
 * `value |> f(b)` becomes f(value, b); the call keeps the callee's
 * location and the new first argument starts where value starts. */
Expr *ast_pipe(Loc start, Expr *value, Expr *call)
{
	Arg *first = ast_arg(start, NULL, value);
	first->next = call->args;
	call->args = first;
	call->nargs++;
	call->piped = 1;
	return call;
}

/* sum:     sum '+' product | sum '-' product
 * product: product '*' unary | product '/' unary */
Expr *ast_binop(Loc op_loc, int op, Expr *lhs, Expr *rhs)
{
	Expr *e = new_expr(EX_BINOP, op_loc);
	e->op = op;
	e->lhs = lhs;
	e->rhs = rhs;
	return e;
}

/* unary: '-' unary
 * value: '-' NUMBER
 * size:  '-' NUMBER */
Expr *ast_neg(Loc loc, Expr *operand)
{
	Expr *e = new_expr(EX_NEG, loc);
	e->lhs = operand;
	return e;
}

/* primary: '(' elems ')' | '(' elems ',' ')'
 * elems:   expr ',' expr | elems ',' expr */
Expr *ast_tuple(Loc loc, Arg *elems_rev)
{
	Expr *e = new_expr(EX_TUPLE, loc);
	e->args = reverse_args(elems_rev);
	for (const Arg *a = e->args; a; a = a->next)
		e->nargs++;
	return e;
}

/* arg: expr | IDENT '=' expr
 * (also one tuple element or one input size, with key NULL) */
Arg *ast_arg(Loc loc, const char *key, Expr *val)
{
	Arg *a = xcalloc(1, sizeof *a);
	a->key = key;
	a->val = val;
	a->loc = loc;
	return a;
}

/* arg_list: arg | arg_list ',' arg   (and elems, sizes) */
Arg *ast_arg_push(Arg *list, Arg *a)
{
	a->next = list;
	return a;
}

/* ---- block items ---- */

/* item: IDENT '=' expr | IDENT value | call
 * top:  IDENT '=' expr */
Stmt *ast_stmt(Loc loc, const char *key, int has_eq, Expr *value)
{
	Stmt *s = xcalloc(1, sizeof *s);
	s->key = key;
	s->key_loc = loc;
	s->has_eq = has_eq;
	s->value = value;
	return s;
}

/* items: %empty | items item | items ';' */
Stmt *ast_stmt_push(Stmt *list, Stmt *s)
{
	s->next = list;
	return s;
}

/* ---- top level ---- */

static const char *const section_names[] = {
	[BLK_ENCODER] = "encoder",
	[BLK_DECODER] = "decoder",
	[BLK_TRAIN] = "train",
	[BLK_DATA] = "data",
};

/* section: IDENT '{'
 * The BlockKind named by word, or -1 after reporting an unknown name. */
int ast_section(Loc loc, const char *word)
{
	for (int k = 0; k < (int)(sizeof section_names / sizeof *section_names); k++)
		if (!strcmp(word, section_names[k]))
			return k;
	diag_error(loc, "unknown section '%s' (expected encoder, decoder, train or data)", word);
	return -1;
}

/* top: MODEL IDENT */
void ast_add_model(ParseState *st, Loc loc, const char *name)
{
	Program *p = st->prog;
	if (p->model) {
		diag_error(loc, "the model is already named '%s'", p->model);
		diag_note(p->model_loc, "named here");
		return;
	}
	p->model = name;
	p->model_loc = loc;
}

/* The size of an input dimension: a positive integer literal no larger
 * than 2^31-1. Returns 0 after reporting anything else. */
static long input_size(const Expr *e)
{
	int neg = e->kind == EX_NEG;
	const Expr *lit = neg ? e->lhs : e;
	if (neg || !lit->is_int || lit->num < 1) {
		diag_error(e->loc, "input size must be a positive integer, got %s%s", neg ? "-" : "",
			   lit->text);
		return 0;
	}
	if (lit->num > INT32_MAX) {
		diag_error(e->loc, "input size %s is too large (at most %ld)", lit->text, (long)INT32_MAX);
		return 0;
	}
	return (long)lit->num;
}

/* top:   INPUT IDENT '[' sizes ']'
 * sizes: size | sizes ',' size
 * size:  NUMBER | '-' NUMBER */
void ast_add_input(ParseState *st, Loc loc, const char *name, Arg *sizes_rev)
{
	Input *in = xcalloc(1, sizeof *in);
	in->name = name;
	in->loc = loc;
	int n = 0;
	Arg *sizes = reverse_args(sizes_rev);
	for (const Arg *a = sizes; a; a = a->next)
		n++;
	for (const Arg *a = sizes; a; a = a->next, in->rank++) {
		if (in->rank == MAX_INPUT_RANK) {
			diag_error(a->loc, "input '%s' has %d dimensions, at most %d are allowed", name, n,
				   MAX_INPUT_RANK);
			break;
		}
		in->dims[in->rank] = input_size(a->val);
		in->dim_loc[in->rank] = a->loc;
	}
	in->next = st->prog->inputs;
	st->prog->inputs = in;
}

/* top: section items '}' */
void ast_add_block(ParseState *st, Loc loc, BlockKind kind, Stmt *items_rev)
{
	Block *b = xcalloc(1, sizeof *b);
	b->kind = kind;
	b->loc = loc;
	b->stmts = reverse_stmts(items_rev);
	b->next = st->prog->blocks;
	st->prog->blocks = b;
}

/* top: IDENT '=' expr */
void ast_add_loss(ParseState *st, Stmt *s)
{
	s->next = st->prog->losses;
	st->prog->losses = s;
}

/* ---- parse_program ---- */

/* Put the program's lists in source order and check that it is named. */
static int finish_program(Program *p)
{
	p->inputs = reverse_inputs(p->inputs);
	p->blocks = reverse_blocks(p->blocks);
	p->losses = reverse_stmts(p->losses);
	if (p->model)
		return 1;
	Loc top = {p->file, 1, 1};
	if (!p->inputs && !p->blocks && !p->losses)
		diag_error(top, "empty program (a .ae file needs at least `model NAME`, an input, "
				"an encoder, a decoder and a loss)");
	else
		diag_error(top, "the model has no name (write e.g. `model my_ae`)");
	return 0;
}

Program *parse_program(const char *path, const char *text)
{
	Program *p = xcalloc(1, sizeof *p);
	p->file = path;
	ParseState st = {.file = path, .line = 1, .col = 1, .eof_loc = {path, 1, 1}, .prog = p};
	int errors = diag_errors();
	yyscan_t scanner;
	int rc = yylex_init_extra(&st, &scanner);
	ASSERT(rc == 0); /* it fails only for lack of memory, and yyalloc exits then */
	yy_scan_string(text, scanner);
	rc = yyparse(scanner, &st);
	yylex_destroy(scanner);
	if (rc != 0 || diag_errors() > errors || !finish_program(p))
		return NULL;
	return p;
}

/* ---- ast_print ---- */

/* Binding strength, loosest first, as in the grammar. */
enum { PREC_PIPE = 1, PREC_SUM, PREC_PRODUCT, PREC_UNARY, PREC_PRIMARY };

static int precedence(const Expr *e)
{
	switch (e->kind) {
	case EX_BINOP:
		return e->op == '+' || e->op == '-' ? PREC_SUM : PREC_PRODUCT;
	case EX_NEG:
		return PREC_UNARY;
	case EX_CALL:
		return e->piped ? PREC_PIPE : PREC_PRIMARY;
	default:
		return PREC_PRIMARY;
	}
}

static void print_expr(FILE *out, const Expr *e, int min);

static void print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		switch (*s) {
		case '"':
		case '\\':
			fprintf(out, "\\%c", *s);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			fputc(*s, out);
		}
	}
	fputc('"', out);
}

/* a, key = b, ... */
static void print_args(FILE *out, const Arg *a)
{
	for (; a; a = a->next) {
		if (a->key)
			fprintf(out, "%s = ", a->key);
		print_expr(out, a->val, PREC_PIPE);
		if (a->next)
			fputs(", ", out);
	}
}

/* f(a, b), or `a |> f(b)` / `a |> f` for a call made by a pipe. */
static void print_call(FILE *out, const Expr *e)
{
	const Arg *args = e->args;
	if (e->piped) {
		print_expr(out, args->val, PREC_PIPE);
		fputs(" |> ", out);
		args = args->next;
	}
	fputs(e->str, out);
	if (e->bare)
		return;
	fputc('(', out);
	print_args(out, args);
	fputc(')', out);
}

/* Print e, in parentheses if it binds more loosely than min allows. */
static void print_expr(FILE *out, const Expr *e, int min)
{
	int prec = precedence(e);
	if (prec < min)
		fputc('(', out);
	switch (e->kind) {
	case EX_NUM:
		fputs(e->text, out);
		break;
	case EX_STR:
		print_string(out, e->str);
		break;
	case EX_NAME:
		fputs(e->str, out);
		break;
	case EX_CALL:
		print_call(out, e);
		break;
	case EX_BINOP:
		/* Left associative: only the right operand of an equal
		 * operator needs parentheses. */
		print_expr(out, e->lhs, prec);
		fprintf(out, " %c ", e->op);
		print_expr(out, e->rhs, prec + 1);
		break;
	case EX_NEG:
		fputc('-', out);
		print_expr(out, e->lhs, PREC_UNARY);
		break;
	case EX_TUPLE:
		fputc('(', out);
		print_args(out, e->args);
		fputc(')', out);
		break;
	}
	if (prec < min)
		fputc(')', out);
}

/* NAME = expr, NAME value, or call(...) */
static void print_stmt(FILE *out, const Stmt *s)
{
	if (s->key)
		fprintf(out, s->has_eq ? "%s = " : "%s ", s->key);
	print_expr(out, s->value, PREC_PIPE);
	fputc('\n', out);
}

static void print_input(FILE *out, const Input *in)
{
	fprintf(out, "input %s[", in->name);
	for (int i = 0; i < in->rank; i++)
		fprintf(out, i ? ", %ld" : "%ld", in->dims[i]);
	fputs("]\n", out);
}

static void print_block(FILE *out, const Block *b)
{
	fprintf(out, "%s {\n", section_names[b->kind]);
	for (const Stmt *s = b->stmts; s; s = s->next) {
		fputs("  ", out);
		print_stmt(out, s);
	}
	fputs("}\n", out);
}

/* A blank line between groups: nothing before the first. */
static void gap(FILE *out, int *started)
{
	if (*started)
		fputc('\n', out);
	*started = 1;
}

/* Print the blocks of p whose kind is a or b, each after a blank line. */
static void print_blocks(FILE *out, const Program *p, BlockKind a, BlockKind b, int *started)
{
	for (const Block *blk = p->blocks; blk; blk = blk->next) {
		if (blk->kind != a && blk->kind != b)
			continue;
		gap(out, started);
		print_block(out, blk);
	}
}

/* The canonical layout: model, inputs, encoder and decoder, loss, then
 * train and data; each group after a blank line, blocks in source order. */
void ast_print(FILE *out, const Program *p)
{
	int started = 0;
	if (p->model) {
		gap(out, &started);
		fprintf(out, "model %s\n", p->model);
	}
	if (p->inputs)
		gap(out, &started);
	for (const Input *in = p->inputs; in; in = in->next)
		print_input(out, in);
	print_blocks(out, p, BLK_ENCODER, BLK_DECODER, &started);
	if (p->losses)
		gap(out, &started);
	for (const Stmt *s = p->losses; s; s = s->next)
		print_stmt(out, s);
	print_blocks(out, p, BLK_TRAIN, BLK_DATA, &started);
}
