/* test_parser.c - the scanner and parser of dsl/: tokens, the shape of the
 * trees they build, locations, ast_print, and syntax errors. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"
#include "lexer.h"

/* ---- helpers ---- */

/* Parse text as the file `path`, registered the way the driver does it. */
static Program *parse_as(const char *path, const char *text)
{
	diag_register_source(path, text);
	return parse_program(path, text);
}

static Program *parse(const char *text) { return parse_as("test.ae", text); }

/* Parse text that must be valid. */
static Program *parse_ok(const char *text)
{
	Program *p = parse(text);
	cr_assert_not_null(p, "parse failed:\n%s", text);
	return p;
}

/* A program around one expression: the value of `loss = EXPR`. */
static Expr *parse_expr(const char *expr)
{
	char *text = xasprintf("model m\nloss = %s\n", expr);
	return parse_ok(text)->losses->value;
}

/* The program printed back, in the compiler's memory like the rest. */
static char *print_program(const Program *p)
{
	char *s;
	size_t len;
	FILE *f = open_memstream(&s, &len);
	ast_print(f, p);
	fclose(f);
	char *copy = xstrdup(s);
	free(s);
	return copy;
}

/* Everything written to the redirected stderr so far. */
static char *stderr_text(void)
{
	fflush(stderr);
	FILE *f = cr_get_redirected_stderr();
	Buf b = {0};
	char chunk[4096];
	size_t n;
	buf_puts(&b, "");
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_printf(&b, "%.*s", (int)n, chunk);
	return b.data;
}

/* Parse text that must fail, and return what was reported. */
static char *parse_error(const char *text)
{
	cr_assert_null(parse(text), "parse succeeded:\n%s", text);
	cr_assert_gt(diag_errors(), 0);
	return stderr_text();
}

/* How many times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

#define assert_contains(hay, needle) \
	cr_assert(strstr((hay), (needle)), "expected \"%s\" in:\n%s", (needle), (hay))

#define assert_loc(l, ln, cl)                                                          \
	do {                                                                           \
		cr_assert_eq((l).line, (ln), "line %d, expected %d", (l).line, (ln)); \
		cr_assert_eq((l).col, (cl), "col %d, expected %d", (l).col, (cl));     \
	} while (0)

static const Arg *nth_arg(const Expr *e, int i)
{
	const Arg *a = e->args;
	while (i-- > 0)
		a = a->next;
	return a;
}

static const Block *nth_block(const Program *p, int i)
{
	const Block *b = p->blocks;
	while (i-- > 0)
		b = b->next;
	return b;
}

/* ---- scanner ---- */

typedef struct Lexed {
	int tok;     /* token kind (TOK_* or the character) */
	YYSTYPE val; /* its value */
	Loc loc;     /* its location */
} Lexed;

/* Scan text into out[] up to and including end of file (or an error);
 * returns the number of tokens. */
static int lex_all(const char *text, Lexed *out, int max)
{
	ParseState st = {.file = "lex.ae", .line = 1, .col = 1, .eof_loc = {"lex.ae", 1, 1}};
	yyscan_t scanner;
	diag_register_source("lex.ae", text);
	cr_assert_eq(yylex_init_extra(&st, &scanner), 0);
	yy_scan_string(text, scanner);
	int n = 0;
	for (;;) {
		cr_assert_lt(n, max);
		int tok = out[n].tok = yylex(&out[n].val, &out[n].loc, scanner);
		if (tok == TOK_YYEOF || tok == TOK_YYerror)
			break;
		n++;
	}
	yylex_destroy(scanner);
	return n;
}

Test(lexer, token_kinds)
{
	Lexed t[32];
	int n = lex_all("model input x |> [ ] ( ) { } , ; = + - * / \"s\" 12 encoder train data", t, 32);
	int want[] = {TOK_MODEL, TOK_INPUT, TOK_IDENT, TOK_PIPE, '[', ']', '(', ')', '{', '}', ',', ';',
		      '=', '+', '-', '*', '/', TOK_STRING, TOK_NUMBER, TOK_IDENT, TOK_IDENT, TOK_IDENT};
	cr_assert_eq(n, (int)(sizeof want / sizeof *want));
	for (int i = 0; i < n; i++)
		cr_assert_eq(t[i].tok, want[i], "token %d is %d, expected %d", i, t[i].tok, want[i]);
	cr_assert_str_eq(t[2].val.str, "x");
	cr_assert_str_eq(t[17].val.str, "s");
	cr_assert_str_eq(t[21].val.str, "data");
}

Test(lexer, identifiers)
{
	Lexed t[8];
	int n = lex_all("_a1 models inputx Z_9", t, 8);
	cr_assert_eq(n, 4);
	const char *want[] = {"_a1", "models", "inputx", "Z_9"};
	for (int i = 0; i < n; i++) {
		cr_assert_eq(t[i].tok, TOK_IDENT);
		cr_assert_str_eq(t[i].val.str, want[i]);
	}
}

Test(lexer, numbers)
{
	static const struct {
		const char *text; /* the literal */
		double value;     /* its value */
		int is_int;       /* written as an integer */
	} cases[] = {
		{"128", 128, 1}, {"0", 0, 1},     {"007", 7, 1},     {"1e-3", 1e-3, 0},
		{"0.5", 0.5, 0}, {".5", 0.5, 0},  {"1.", 1, 0},      {"2E+4", 2e4, 0},
		{"3e2", 300, 0}, {"1.5e1", 15, 0}, {"9223372036854775807", 9223372036854775807.0, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		Lexed t[2];
		cr_assert_eq(lex_all(cases[i].text, t, 2), 1);
		cr_assert_eq(t[0].tok, TOK_NUMBER, "%s", cases[i].text);
		const Expr *e = t[0].val.expr;
		cr_assert_eq(e->kind, EX_NUM);
		cr_assert_float_eq(e->num, cases[i].value, 1e-12, "%s", cases[i].text);
		cr_assert_eq(e->is_int, cases[i].is_int, "%s", cases[i].text);
		cr_assert_str_eq(e->text, cases[i].text);
	}
}

Test(lexer, string_escapes)
{
	Lexed t[2];
	cr_assert_eq(lex_all("\"a\\\"b\\\\c\\nd\\te # f\"", t, 2), 1);
	cr_assert_eq(t[0].tok, TOK_STRING);
	cr_assert_str_eq(t[0].val.str, "a\"b\\c\nd\te # f");
}

Test(lexer, comments_and_positions)
{
	Lexed t[8];
	int n = lex_all("# heading\n  a # trailing\n\tb\r\n\n   \"s\" 1.5\n", t, 8);
	cr_assert_eq(n, 4);
	assert_loc(t[0].loc, 2, 3);
	assert_loc(t[1].loc, 3, 2); /* a tab is one byte column */
	assert_loc(t[2].loc, 5, 4);
	assert_loc(t[3].loc, 5, 8);
	cr_assert_str_eq(t[0].loc.file, "lex.ae");
}

Test(lexer, end_of_file_after_last_token)
{
	Lexed t[4];
	int n = lex_all("ab\n\n# end\n", t, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(t[1].tok, TOK_YYEOF);
	assert_loc(t[1].loc, 1, 3);
}

Test(lexer, malformed_tokens, .init = cr_redirect_stderr)
{
	static const struct {
		const char *text;    /* the input */
		int line, col;       /* where the error is */
		const char *message; /* what it says */
	} cases[] = {
		{"  \"abc\n\"", 1, 3, "error: unterminated string"},
		{"\"abc", 1, 1, "error: unterminated string"},
		{"x\n  @", 2, 3, "error: stray '@' in program"},
		{"\x01", 1, 1, "error: stray '\\x01' in program"},
		{"\xc3\xa9", 1, 1, "error: stray '\\xC3' in program"},
		{"\"ab\\q\"", 1, 4, "error: unknown escape sequence '\\q' in string"},
		{"12abc", 1, 1, "error: malformed number '12abc'"},
		{"1e", 1, 1, "error: malformed number '1e'"},
		{"9223372036854775808", 1, 1, "error: integer '9223372036854775808' is too large"},
		{"1e400", 1, 1, "error: number '1e400' is too large"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		Lexed t[4];
		int n = lex_all(cases[i].text, t, 4);
		cr_assert_eq(t[n].tok, TOK_YYerror, "%s", cases[i].text);
	}
	char *err = stderr_text();
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		assert_contains(err, xasprintf("lex.ae:%d:%d: %s\n", cases[i].line, cases[i].col,
					       cases[i].message));
}

Test(lexer, tiny_numbers_are_not_errors)
{
	Lexed t[2];
	cr_assert_eq(lex_all("1e-400", t, 2), 1);
	cr_assert_eq(t[0].tok, TOK_NUMBER);
	cr_assert_eq(diag_errors(), 0);
}

/* ---- program structure ---- */

static const char fashion[] =
	"# comment to end of line\n"
	"model fashion_ae\n"
	"input x[784]\n"
	"encoder { z = x |> dense(512) |> relu |> dense(256) |> relu |> dense(32) }\n"
	"decoder {\n"
	"  h = z |> dense(256) |> relu\n"
	"  xhat = h |> dense(512) |> relu |> dense(784) |> sigmoid\n"
	"}\n"
	"loss = mse(xhat, x) + 0.5 * bce(xhat, x, reduction = \"sum\")\n"
	"train { adam(lr = 1e-3, betas = (0.9, 0.999), eps = 1e-8, weight_decay = 0)  batch 128  "
	"epochs 10  seed 1 }\n"
	"data { train = idx(\"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\") / 255\n"
	"       test  = idx(\"t10k.gz\") / 255 }\n";

Test(parser, whole_program)
{
	Program *p = parse_ok(fashion);
	cr_assert_str_eq(p->file, "test.ae");
	cr_assert_str_eq(p->model, "fashion_ae");
	cr_assert_str_eq(p->inputs->name, "x");
	cr_assert_eq(p->inputs->rank, 1);
	cr_assert_eq(p->inputs->dims[0], 784);
	cr_assert_null(p->inputs->next);
	BlockKind kinds[] = {BLK_ENCODER, BLK_DECODER, BLK_TRAIN, BLK_DATA};
	int nstmts[] = {1, 2, 4, 2};
	const Block *b = p->blocks;
	for (int i = 0; i < 4; i++, b = b->next) {
		cr_assert_eq(b->kind, kinds[i]);
		int n = 0;
		for (const Stmt *s = b->stmts; s; s = s->next)
			n++;
		cr_assert_eq(n, nstmts[i], "block %d has %d items", i, n);
	}
	cr_assert_null(b);
	cr_assert_str_eq(p->losses->key, "loss");
	cr_assert(p->losses->has_eq);
	cr_assert_null(p->losses->next);
}

Test(parser, input_ranks)
{
	Program *p = parse_ok("model m\ninput a[784]\ninput img[1, 28, 28]\ninput v[2, 3, 4, 2147483647]\n");
	const Input *in = p->inputs;
	cr_assert_str_eq(in->name, "a");
	in = in->next;
	cr_assert_str_eq(in->name, "img");
	cr_assert_eq(in->rank, 3);
	cr_assert_eq(in->dims[0], 1);
	cr_assert_eq(in->dims[1], 28);
	cr_assert_eq(in->dims[2], 28);
	in = in->next;
	cr_assert_eq(in->rank, 4);
	cr_assert_eq(in->dims[3], 2147483647L);
	cr_assert_null(in->next);
}

Test(parser, top_level_in_any_order)
{
	Program *p = parse_ok("loss = a\ndata { }\ninput x[2]\nmodel m\nencoder { z = x }\nother = 1;\n");
	cr_assert_str_eq(p->model, "m");
	cr_assert_eq(p->blocks->kind, BLK_DATA);
	cr_assert_null(p->blocks->stmts);
	cr_assert_eq(p->blocks->next->kind, BLK_ENCODER);
	cr_assert_str_eq(p->losses->key, "loss");
	cr_assert_str_eq(p->losses->next->key, "other");
}

/* ---- expressions ---- */

Test(parser, literals)
{
	Expr *e = parse_expr("f(128, 0.5, \"s\", name)");
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_eq(nth_arg(e, 0)->val->kind, EX_NUM);
	cr_assert(nth_arg(e, 0)->val->is_int);
	cr_assert_not(nth_arg(e, 1)->val->is_int);
	cr_assert_eq(nth_arg(e, 2)->val->kind, EX_STR);
	cr_assert_str_eq(nth_arg(e, 2)->val->str, "s");
	cr_assert_eq(nth_arg(e, 3)->val->kind, EX_NAME);
	cr_assert_str_eq(nth_arg(e, 3)->val->str, "name");
}

Test(parser, product_binds_tighter_than_sum)
{
	Expr *e = parse_expr("a + b * c");
	cr_assert_eq(e->kind, EX_BINOP);
	cr_assert_eq(e->op, '+');
	cr_assert_eq(e->lhs->kind, EX_NAME);
	cr_assert_eq(e->rhs->kind, EX_BINOP);
	cr_assert_eq(e->rhs->op, '*');

	e = parse_expr("a / b - c");
	cr_assert_eq(e->op, '-');
	cr_assert_eq(e->lhs->op, '/');
}

Test(parser, left_associative)
{
	Expr *e = parse_expr("a - b - c");
	cr_assert_eq(e->op, '-');
	cr_assert_eq(e->lhs->kind, EX_BINOP);
	cr_assert_str_eq(e->rhs->str, "c");

	e = parse_expr("a / b * c");
	cr_assert_eq(e->op, '*');
	cr_assert_eq(e->lhs->op, '/');
}

Test(parser, parentheses)
{
	Expr *e = parse_expr("(a + b) * c");
	cr_assert_eq(e->op, '*');
	cr_assert_eq(e->lhs->op, '+');
}

Test(parser, unary_minus)
{
	Expr *e = parse_expr("-a * -2");
	cr_assert_eq(e->op, '*');
	cr_assert_eq(e->lhs->kind, EX_NEG);
	cr_assert_str_eq(e->lhs->lhs->str, "a");
	cr_assert_eq(e->rhs->kind, EX_NEG);
	cr_assert_eq(e->rhs->lhs->kind, EX_NUM);

	e = parse_expr("--a");
	cr_assert_eq(e->kind, EX_NEG);
	cr_assert_eq(e->lhs->kind, EX_NEG);
}

Test(parser, pipe_is_loosest)
{
	Expr *e = parse_expr("2 * x + 1 |> f");
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_eq(nth_arg(e, 0)->val->op, '+');

	e = parse_expr("-x |> f");
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_eq(nth_arg(e, 0)->val->kind, EX_NEG);
}

Test(parser, pipes_desugared)
{
	Expr *e = parse_expr("x |> dense(512) |> relu");
	/* relu(dense(x, 512)) */
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_str_eq(e->str, "relu");
	cr_assert(e->piped);
	cr_assert(e->bare);
	cr_assert_eq(e->nargs, 1);
	const Expr *d = e->args->val;
	cr_assert_eq(d->kind, EX_CALL);
	cr_assert_str_eq(d->str, "dense");
	cr_assert(d->piped);
	cr_assert_not(d->bare);
	cr_assert_eq(d->nargs, 2);
	cr_assert_str_eq(nth_arg(d, 0)->val->str, "x");
	cr_assert_null(nth_arg(d, 0)->key);
	cr_assert_eq(nth_arg(d, 1)->val->num, 512);
	cr_assert_null(nth_arg(d, 1)->next);
}

Test(parser, direct_call_is_not_piped)
{
	Expr *e = parse_expr("dense(x, 512)");
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_not(e->piped);
	cr_assert_not(e->bare);
	cr_assert_eq(e->nargs, 2);
}

Test(parser, empty_call)
{
	Expr *e = parse_expr("f()");
	cr_assert_eq(e->kind, EX_CALL);
	cr_assert_eq(e->nargs, 0);
	cr_assert_null(e->args);
	cr_assert_not(e->bare);

	e = parse_expr("x |> f()");
	cr_assert_eq(e->nargs, 1);
	cr_assert_not(e->bare);
}

Test(parser, keyword_arguments)
{
	Expr *e = parse_expr("x |> leaky_relu(slope = 0.2)");
	cr_assert_eq(e->nargs, 2);
	cr_assert_null(nth_arg(e, 0)->key);
	cr_assert_str_eq(nth_arg(e, 1)->key, "slope");
	cr_assert_float_eq(nth_arg(e, 1)->val->num, 0.2, 1e-15);

	e = parse_expr("bce(a, b, reduction = \"sum\")");
	cr_assert_eq(e->nargs, 3);
	cr_assert_str_eq(nth_arg(e, 2)->key, "reduction");
	cr_assert_str_eq(nth_arg(e, 2)->val->str, "sum");
}

Test(parser, tuples)
{
	Expr *e = parse_expr("(0.9, 0.999)");
	cr_assert_eq(e->kind, EX_TUPLE);
	cr_assert_eq(e->nargs, 2);
	cr_assert_float_eq(nth_arg(e, 1)->val->num, 0.999, 1e-15);

	e = parse_expr("(1, (2, 3), 4,)");
	cr_assert_eq(e->kind, EX_TUPLE);
	cr_assert_eq(e->nargs, 3);
	cr_assert_eq(nth_arg(e, 1)->val->kind, EX_TUPLE);
	cr_assert_null(nth_arg(e, 2)->next);

	e = parse_expr("(1)");
	cr_assert_eq(e->kind, EX_NUM);
}

Test(parser, tuple_as_keyword_value)
{
	Program *p = parse_ok("model m\ntrain { adam(lr = 1e-3, betas = (0.9, 0.999)) }\n");
	const Expr *call = p->blocks->stmts->value;
	cr_assert_str_eq(call->str, "adam");
	cr_assert_str_eq(nth_arg(call, 1)->key, "betas");
	cr_assert_eq(nth_arg(call, 1)->val->kind, EX_TUPLE);
}

/* ---- blocks ---- */

Test(parser, block_item_forms)
{
	Program *p = parse_ok("model m\ntrain { adam(lr = 1e-3)  batch 128  epochs 10  seed 1 }\n");
	const Stmt *s = p->blocks->stmts;
	cr_assert_null(s->key);
	cr_assert_eq(s->value->kind, EX_CALL);
	cr_assert_str_eq(s->value->str, "adam");
	const char *keys[] = {"batch", "epochs", "seed"};
	double vals[] = {128, 10, 1};
	for (int i = 0; i < 3; i++) {
		s = s->next;
		cr_assert_str_eq(s->key, keys[i]);
		cr_assert_not(s->has_eq);
		cr_assert_eq(s->value->kind, EX_NUM);
		cr_assert_eq(s->value->num, vals[i]);
	}
	cr_assert_null(s->next);
}

Test(parser, block_item_values)
{
	Program *p = parse_ok("model m\ntrain { a -1  b \"s\"  c name  d = 1 + 2 }\n");
	const Stmt *s = p->blocks->stmts;
	cr_assert_eq(s->value->kind, EX_NEG);
	cr_assert_eq(s->value->lhs->kind, EX_NUM);
	cr_assert_eq(s->next->value->kind, EX_STR);
	cr_assert_eq(s->next->next->value->kind, EX_NAME);
	s = s->next->next->next;
	cr_assert(s->has_eq);
	cr_assert_eq(s->value->kind, EX_BINOP);
}

Test(parser, items_share_lines_and_semicolons)
{
	Program *p = parse_ok("model m\nencoder { a = x |> relu  b = a; c = b;; }\n"
			      "decoder { ; }\n");
	const Stmt *s = p->blocks->stmts;
	cr_assert_str_eq(s->key, "a");
	cr_assert_str_eq(s->value->str, "relu");
	cr_assert_str_eq(s->next->key, "b");
	cr_assert_str_eq(s->next->next->key, "c");
	cr_assert_null(s->next->next->next);
	cr_assert_null(p->blocks->next->stmts);
}

Test(parser, section_names_are_not_reserved)
{
	Program *p = parse_ok("model m\ndata { train = idx(\"a\") / 255  test = idx(\"b\") }\n"
			      "encoder { encoder = data |> train  decoder = encoder }\n");
	const Stmt *s = p->blocks->stmts;
	cr_assert_str_eq(s->key, "train");
	cr_assert(s->has_eq);
	cr_assert_eq(s->value->op, '/');
	s = nth_block(p, 1)->stmts;
	cr_assert_str_eq(s->key, "encoder");
	cr_assert_str_eq(s->value->str, "train");
	cr_assert_str_eq(s->value->args->val->str, "data");
}

/* ---- locations ---- */

Test(parser, locations)
{
	Program *p = parse_ok("model  m\n"                          /* 1 */
			      "input x[1,  28]\n"                    /* 2 */
			      "encoder {\n"                          /* 3 */
			      "  z = x |> dense(8) |> relu\n"        /* 4 */
			      "}\n"                                  /* 5 */
			      "  loss = 2 * mse(z, x, r = \"s\")\n"  /* 6 */
			      "train { adam(lr = (1, 2))  batch 3 }\n"); /* 7 */
	assert_loc(p->model_loc, 1, 8);
	const Input *in = p->inputs;
	assert_loc(in->loc, 2, 7);
	assert_loc(in->dim_loc[0], 2, 9);
	assert_loc(in->dim_loc[1], 2, 13);

	const Block *enc = p->blocks;
	assert_loc(enc->loc, 3, 1);
	const Stmt *s = enc->stmts;
	assert_loc(s->key_loc, 4, 3);
	const Expr *relu = s->value;
	assert_loc(relu->loc, 4, 24);        /* a piped call: its callee */
	assert_loc(relu->args->loc, 4, 7);   /* the piped value starts at x */
	const Expr *dense = relu->args->val;
	assert_loc(dense->loc, 4, 12);
	assert_loc(dense->args->val->loc, 4, 7);
	assert_loc(nth_arg(dense, 1)->loc, 4, 18);

	const Stmt *loss = p->losses;
	assert_loc(loss->key_loc, 6, 3);
	assert_loc(loss->value->loc, 6, 12); /* a binary operator: the operator */
	assert_loc(loss->value->lhs->loc, 6, 10);
	const Expr *mse = loss->value->rhs;
	assert_loc(mse->loc, 6, 14);
	assert_loc(nth_arg(mse, 2)->loc, 6, 24); /* a keyword argument: the key */
	assert_loc(nth_arg(mse, 2)->val->loc, 6, 28);

	const Block *train = p->blocks->next;
	assert_loc(train->loc, 7, 1);
	assert_loc(train->stmts->key_loc, 7, 9); /* a call item: the call */
	const Expr *tuple = train->stmts->value->args->val;
	assert_loc(tuple->loc, 7, 19);
	assert_loc(nth_arg(tuple, 1)->loc, 7, 23);
	assert_loc(train->stmts->next->key_loc, 7, 28);
	assert_loc(train->stmts->next->value->loc, 7, 34);
	cr_assert_str_eq(train->loc.file, "test.ae");
}

Test(parser, negation_and_parenthesis_locations)
{
	Expr *e = parse_expr("f((a + b), -c)");
	assert_loc(nth_arg(e, 0)->loc, 2, 10);      /* the argument starts at '(' */
	assert_loc(nth_arg(e, 0)->val->loc, 2, 13); /* the sum is at its '+' */
	assert_loc(nth_arg(e, 1)->val->loc, 2, 19);
	assert_loc(nth_arg(e, 1)->val->lhs->loc, 2, 20);
}

/* ---- ast_print ---- */

static const char canonical[] =
	"model fashion_ae\n"
	"\n"
	"input x[784]\n"
	"\n"
	"encoder {\n"
	"  z = x |> dense(512) |> relu |> dense(256) |> relu |> dense(32)\n"
	"}\n"
	"\n"
	"decoder {\n"
	"  h = z |> dense(256) |> relu\n"
	"  xhat = h |> dense(512) |> relu |> dense(784) |> sigmoid\n"
	"}\n"
	"\n"
	"loss = mse(xhat, x) + 0.5 * bce(xhat, x, reduction = \"sum\")\n"
	"\n"
	"train {\n"
	"  adam(lr = 1e-3, betas = (0.9, 0.999), eps = 1e-8, weight_decay = 0)\n"
	"  batch 128\n"
	"  epochs 10\n"
	"  seed 1\n"
	"}\n"
	"\n"
	"data {\n"
	"  train = idx(\"/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz\") / 255\n"
	"  test = idx(\"t10k.gz\") / 255\n"
	"}\n";

Test(printer, canonical_layout)
{
	cr_assert_str_eq(print_program(parse_ok(fashion)), canonical);
}

/* parse -> print -> parse -> print gives the same text twice. */
static void assert_round_trip(const char *text)
{
	char *once = print_program(parse_as("once.ae", text));
	Program *again = parse_as("twice.ae", once);
	cr_assert_not_null(again, "printed text does not parse:\n%s", once);
	char *twice = print_program(again);
	cr_assert_str_eq(once, twice);
}

Test(printer, round_trip)
{
	assert_round_trip(fashion);
	assert_round_trip("input a[1, 2, 3, 4] input b[5]\nmodel m;\n"
			  "encoder { z = (a + b) * -c - -(d - e) / f |> g |> h(k = (1, (2, 3)), 4) }\n"
			  "loss = -(x |> f) + (y |> g) * 2 - (a - b) - (c / (d * e))\n"
			  "extra = f(\"q\\\"\\\\\\n\\t\", .5, 1., 2E+4, 007)\n"
			  "train { a() b -1 c x d \"s\" e = (1, 2,) }\n");
}

Test(printer, minimal_parentheses)
{
	Program *p = parse_ok("model m\nloss = ((a - (b - c)) + ((d * e) / (f |> g))) |> h\n");
	char *s = print_program(p);
	assert_contains(s, "loss = a - (b - c) + d * e / (f |> g) |> h\n");
}

/* ---- errors ---- */

Test(errors, unexpected_token, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\ninput x[784]\nloss 1\n");
	cr_assert_str_eq(err, "test.ae:3:6: error: syntax error, unexpected number, expecting '=' or '{'\n"
			      "    3 | loss 1\n"
			      "      |      ^\n");
}

Test(errors, token_names, .init = cr_redirect_stderr)
{
	parse("model m\nencoder { z = x |> 3 }\n");
	parse("model m\nencoder { z = |> f }\n");
	parse("model m\nloss = model\n");
	parse("model m\ninput x[]\n");
	parse("model\n");
	char *err = stderr_text();
	assert_contains(err, "test.ae:2:20: error: syntax error, unexpected number, expecting identifier\n");
	assert_contains(err, "test.ae:2:15: error: syntax error, unexpected '|>', expecting expression\n");
	assert_contains(err, "test.ae:2:8: error: syntax error, unexpected 'model', expecting expression\n");
	assert_contains(err, "test.ae:2:9: error: syntax error, unexpected ']', expecting number or '-'\n");
	assert_contains(err, "test.ae:1:6: error: syntax error, unexpected end of file, expecting identifier\n");
}

Test(errors, unclosed_bracket_at_end_of_file, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\nencoder {\n  z = f(x\n\n# the end\n");
	cr_assert_str_eq(err, "test.ae:3:10: error: syntax error, unexpected end of file\n"
			      "    3 |   z = f(x\n"
			      "      |          ^\n"
			      "test.ae:3:8: note: this '(' is not closed\n"
			      "    3 |   z = f(x\n"
			      "      |        ^\n");
}

Test(errors, unclosed_bracket_before_other_tokens, .init = cr_redirect_stderr)
{
	parse("model m\nencoder { z = f(x }\n");
	parse("model m\nencoder {\n  z = x\ndecoder { xhat = z }\n");
	parse("model m\nloss = a {\n");
	parse("model m\nloss = f(1,)\n");
	char *err = stderr_text();
	assert_contains(err, "test.ae:2:19: error: syntax error, unexpected '}'\n");
	assert_contains(err, "test.ae:2:16: note: this '(' is not closed\n");
	assert_contains(err, "test.ae:4:9: error: syntax error, unexpected '{', expecting '=' or expression\n");
	assert_contains(err, "test.ae:2:9: note: this '{' is not closed\n");
	assert_contains(err, "test.ae:2:10: error: syntax error, unexpected '{'\n");
	assert_contains(err, "test.ae:2:12: error: syntax error, unexpected ')', expecting expression\n");
	cr_assert_eq(count(err, ": note: "), 2);
}

Test(errors, only_the_first_syntax_error, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\nloss = )\nloss = )\n");
	cr_assert_eq(diag_errors(), 1);
	cr_assert_null(strstr(err, "test.ae:3:"));
}

Test(errors, lexical_errors_stop_the_parse, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\nloss = \"abc\n");
	cr_assert_str_eq(err, "test.ae:2:8: error: unterminated string\n"
			      "    2 | loss = \"abc\n"
			      "      |        ^\n");
	cr_assert_eq(diag_errors(), 1);
}

Test(errors, unknown_section, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\nencodr { z = x }\n");
	assert_contains(err, "test.ae:2:1: error: unknown section 'encodr' (expected encoder, decoder, train or data)\n");
}

Test(errors, input_sizes, .init = cr_redirect_stderr)
{
	char *err = parse_error("model m\ninput a[0]\ninput b[2, -3]\ninput c[2.5]\ninput d[2147483648]\n"
				"input e[1, 2, 3, 4, 5, 6]\ninput f[1e3]\n");
	assert_contains(err, "test.ae:2:9: error: input size must be a positive integer, got 0\n");
	assert_contains(err, "test.ae:3:12: error: input size must be a positive integer, got -3\n");
	assert_contains(err, "test.ae:4:9: error: input size must be a positive integer, got 2.5\n");
	assert_contains(err, "test.ae:5:9: error: input size 2147483648 is too large (at most 2147483647)\n");
	assert_contains(err, "test.ae:6:21: error: input 'e' has 6 dimensions, at most 4 are allowed\n");
	assert_contains(err, "test.ae:7:9: error: input size must be a positive integer, got 1e3\n");
	cr_assert_eq(diag_errors(), 6);
}

Test(errors, model_name, .init = cr_redirect_stderr)
{
	parse("");
	parse("# only a comment\n;\n");
	parse("input x[1]\n");
	parse("model a\nmodel b\n");
	char *err = stderr_text();
	assert_contains(err, "test.ae:1:1: error: empty program");
	assert_contains(err, "test.ae:1:1: error: the model has no name (write e.g. `model my_ae`)\n");
	assert_contains(err, "test.ae:2:7: error: the model is already named 'a'\n");
	assert_contains(err, "test.ae:1:7: note: named here\n");
	cr_assert_eq(diag_errors(), 4);
}

Test(errors, deep_nesting, .init = cr_redirect_stderr)
{
	enum { DEPTH = 100000 };
	Buf b = {0};
	buf_puts(&b, "model m\nloss = ");
	for (int i = 0; i < DEPTH; i++)
		buf_puts(&b, "(");
	buf_puts(&b, "1");
	for (int i = 0; i < DEPTH; i++)
		buf_puts(&b, ")");
	char *err = parse_error(b.data);
	assert_contains(err, "error: expression nested too deeply");
}

/* Every prefix of a valid program, and the program with any one byte
 * replaced, parses or fails cleanly. */
static void quiet(void) { cr_assert_not_null(freopen("/dev/null", "w", stderr)); }

Test(errors, never_crash, .init = quiet)
{
	size_t len = strlen(fashion);
	static const char junk[] = "\"(){}[]|>=,;-#.e\n\x80@";
	for (size_t i = 0; i <= len; i++) {
		char *text = xstrndup(fashion, i);
		parse(text);
		for (const char *j = junk; *j; j++) {
			char *t = xstrdup(fashion);
			t[i < len ? i : 0] = *j;
			parse(t);
		}
	}
	cr_assert_gt(diag_errors(), 0);
}
