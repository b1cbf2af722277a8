/* parser.y - the grammar of .ae files (docs/language.md has it in EBNF).
 *
 * Actions only call the constructors of ast.c, where each constructor
 * carries the rule that uses it. Lists (arguments, tuple elements, block
 * items, input sizes) are built newest first by ast_arg_push() and
 * ast_stmt_push() and put back in source order by the constructor of the
 * node that owns them.
 *
 * Only the first syntax error is reported: the parser has no error
 * recovery and stops there. Checks that need no more than one rule (an
 * input's sizes, a section's name, a second `model`) are made by the
 * constructors; of these only an unknown section stops the parse. */

%code requires {
#include "ast.h"

/* The scanner handle, declared exactly as the flex header declares it. */
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* An opening bracket, '(' '[' or '{', that the scanner has passed. */
typedef struct Bracket {
	Loc loc;    /* where it is */
	char open;  /* the bracket */
	char close; /* the character that closes it */
} Bracket;

/* What the scanner and the parser share while they read one file. */
typedef struct ParseState {
	const char *file; /* path of the file, copied into every Loc */
	int line;         /* line of the next byte the scanner reads */
	int col;          /* column of that byte */
	Loc eof_loc;      /* just past the last token: where end of file is reported */
	Vec open;         /* the Brackets not closed yet, innermost last */
	Program *prog;    /* the program being built (lists newest first until the end) */
} ParseState;
}

%code provides {
/* Constructors called by the actions and the scanner (see ast.c). */
Expr *ast_num(Loc loc, double num, int is_int, const char *text);
Expr *ast_str(Loc loc, const char *s);
Expr *ast_name(Loc loc, const char *name);
Expr *ast_call(Loc loc, const char *callee, Arg *args_rev, int bare);
Expr *ast_pipe(Loc start, Expr *value, Expr *call);
Expr *ast_binop(Loc op_loc, int op, Expr *lhs, Expr *rhs);
Expr *ast_neg(Loc loc, Expr *operand);
Expr *ast_tuple(Loc loc, Arg *elems_rev);
Arg *ast_arg(Loc loc, const char *key, Expr *val);
Arg *ast_arg_push(Arg *list, Arg *a);
Stmt *ast_stmt(Loc loc, const char *key, int has_eq, Expr *value);
Stmt *ast_stmt_push(Stmt *list, Stmt *s);
int ast_section(Loc loc, const char *word);
void ast_add_model(ParseState *st, Loc loc, const char *name);
void ast_add_input(ParseState *st, Loc loc, const char *name, Arg *sizes_rev);
void ast_add_block(ParseState *st, Loc loc, BlockKind kind, Stmt *items_rev);
void ast_add_loss(ParseState *st, Stmt *s);
}

%code {
#include "lexer.h"

/* A nonterminal starts where its first symbol starts; an empty one where
 * the symbol before it starts. */
#define YYLLOC_DEFAULT(Cur, Rhs, N) ((Cur) = YYRHSLOC(Rhs, (N) ? 1 : 0))

static void yyerror(const Loc *loc, yyscan_t scanner, ParseState *st, const char *msg);
}

%define api.pure full
%define api.location.type {Loc}
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%param {yyscan_t scanner}
%parse-param {ParseState *st}
%expect 0

%union {
	const char *str; /* identifier or decoded string */
	Expr *expr;      /* expression */
	Arg *arg;        /* one argument, tuple element or input size */
	Arg *args;       /* a list of them, newest first */
	Stmt *stmts;     /* block items, newest first */
	Stmt *stmt;      /* one block item */
	int kind;        /* BlockKind of a section */
}

%token <str> IDENT "identifier"
%token <expr> NUMBER "number"
%token <str> STRING "string"
%token PIPE "'|>'"
%token MODEL "'model'"
%token INPUT "'input'"

%type <expr> expr sum product unary primary call callee value size
%type <arg> arg
%type <args> args arg_list elems sizes
%type <stmts> items
%type <stmt> item
%type <kind> section

/* Nodes live until the compiler exits (see util.h), so a symbol the
 * parser discards needs no cleanup. */
%destructor { } <*>

%%

program:
	  %empty
	| program top
	| program ';'
	;

top:
	  MODEL IDENT                 { ast_add_model(st, @2, $2); }
	| INPUT IDENT '[' sizes ']'   { ast_add_input(st, @2, $2, $4); }
	| section items '}'           { ast_add_block(st, @1, (BlockKind)$1, $2); }
	| IDENT '=' expr              { ast_add_loss(st, ast_stmt(@1, $1, 1, $3)); }
	;

section:
	  IDENT '{'                   { $$ = ast_section(@1, $1); if ($$ < 0) YYABORT; }
	;

sizes:
	  size                        { $$ = ast_arg_push(NULL, ast_arg(@1, NULL, $1)); }
	| sizes ',' size              { $$ = ast_arg_push($1, ast_arg(@3, NULL, $3)); }
	;

size:
	  NUMBER
	| '-' NUMBER                  { $$ = ast_neg(@1, $2); }
	;

items:
	  %empty                      { $$ = NULL; }
	| items item                  { $$ = ast_stmt_push($1, $2); }
	| items ';'
	;

item:
	  IDENT '=' expr              { $$ = ast_stmt(@1, $1, 1, $3); }
	| IDENT value                 { $$ = ast_stmt(@1, $1, 0, $2); }
	| call                        { $$ = ast_stmt(@1, NULL, 0, $1); }
	;

value:
	  NUMBER
	| '-' NUMBER                  { $$ = ast_neg(@1, $2); }
	| STRING                      { $$ = ast_str(@1, $1); }
	| IDENT                       { $$ = ast_name(@1, $1); }
	;

expr:
	  expr PIPE callee            { $$ = ast_pipe(@1, $1, $3); }
	| sum
	;

callee:
	  IDENT                       { $$ = ast_call(@1, $1, NULL, 1); }
	| call
	;

sum:
	  sum '+' product             { $$ = ast_binop(@2, '+', $1, $3); }
	| sum '-' product             { $$ = ast_binop(@2, '-', $1, $3); }
	| product
	;

product:
	  product '*' unary           { $$ = ast_binop(@2, '*', $1, $3); }
	| product '/' unary           { $$ = ast_binop(@2, '/', $1, $3); }
	| unary
	;

unary:
	  '-' unary                   { $$ = ast_neg(@1, $2); }
	| primary
	;

primary:
	  NUMBER
	| STRING                      { $$ = ast_str(@1, $1); }
	| IDENT                       { $$ = ast_name(@1, $1); }
	| call
	| '(' expr ')'                { $$ = $2; }
	| '(' elems ')'               { $$ = ast_tuple(@1, $2); }
	| '(' elems ',' ')'           { $$ = ast_tuple(@1, $2); }
	;

elems:
	  expr ',' expr               { $$ = ast_arg_push(ast_arg_push(NULL, ast_arg(@1, NULL, $1)),
	                                                  ast_arg(@3, NULL, $3)); }
	| elems ',' expr              { $$ = ast_arg_push($1, ast_arg(@3, NULL, $3)); }
	;

call:
	  IDENT '(' args ')'          { $$ = ast_call(@1, $1, $3, 0); }
	;

args:
	  %empty                      { $$ = NULL; }
	| arg_list
	;

arg_list:
	  arg                         { $$ = ast_arg_push(NULL, $1); }
	| arg_list ',' arg            { $$ = ast_arg_push($1, $3); }
	;

arg:
	  expr                        { $$ = ast_arg(@1, NULL, $1); }
	| IDENT '=' expr              { $$ = ast_arg(@1, $1, $3); }
	;

%%

/* Whether a token can start an expression. When every such token would
 * fit, a message says "expression" instead of listing them. */
static int starts_expr(yysymbol_kind_t k)
{
	return k == YYSYMBOL_NUMBER || k == YYSYMBOL_STRING || k == YYSYMBOL_IDENT ||
	       k == YYTRANSLATE('(') || k == YYTRANSLATE('-');
}
enum { EXPR_STARTS = 5 }; /* how many tokens starts_expr() accepts */

/* The open bracket a syntax error at `found` most likely comes from, or
 * NULL. At end of file, or at a '{' (blocks do not nest), it is the
 * innermost bracket still open before the token; at a closing bracket, the
 * innermost open one if that is closed by another character. */
static const Bracket *unclosed_bracket(const ParseState *st, yysymbol_kind_t found)
{
	int n = st->open.len;
	if (found == YYTRANSLATE('{'))
		n--; /* the scanner has already pushed this '{' */
	if (n <= 0)
		return NULL;
	const Bracket *b = st->open.data[n - 1];
	if (found == YYSYMBOL_YYEOF || found == YYTRANSLATE('{'))
		return b;
	int closing = found == YYTRANSLATE(')') || found == YYTRANSLATE(']') || found == YYTRANSLATE('}');
	int close = (unsigned char)b->close;
	return closing && found != YYTRANSLATE(close) ? b : NULL;
}

/* "syntax error, unexpected number, expecting '=' or identifier": the token
 * found and, when there are at most four, what would fit instead; then a
 * note at the bracket left open, if that is the likely cause. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseState *st)
{
	enum { MAX_EXPECTED = 4 };
	yysymbol_kind_t expected[YYNTOKENS];
	const char *names[YYNTOKENS];
	(void)scanner;
	int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
	if (n < 0)
		return n;
	int nexpr = 0, nnames = 0;
	for (int i = 0; i < n; i++)
		nexpr += starts_expr(expected[i]);
	for (int i = 0; i < n; i++)
		if (nexpr < EXPR_STARTS || !starts_expr(expected[i]))
			names[nnames++] = yysymbol_name(expected[i]);
	if (nexpr == EXPR_STARTS)
		names[nnames++] = "expression";

	Buf msg = {0};
	buf_puts(&msg, "syntax error");
	yysymbol_kind_t found = yypcontext_token(ctx);
	if (found != YYSYMBOL_YYEMPTY)
		buf_printf(&msg, ", unexpected %s", yysymbol_name(found));
	for (int i = 0; i < nnames && nnames <= MAX_EXPECTED; i++)
		buf_printf(&msg, "%s%s", i ? " or " : ", expecting ", names[i]);
	diag_error(*yypcontext_location(ctx), "%s", msg.data);
	const Bracket *open = unclosed_bracket(st, found);
	if (open)
		diag_note(open->loc, "this '%c' is not closed", open->open);
	return 0;
}

/* With custom error messages, the parser calls this only when its stack
 * overflows. */
static void yyerror(const Loc *loc, yyscan_t scanner, ParseState *st, const char *msg)
{
	(void)scanner;
	(void)st;
	diag_error(*loc, "expression nested too deeply (%s)", msg);
}
