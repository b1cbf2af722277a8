/* round.c - the bf16 rounding of a generated model with bf16 products
 * (NAME_bf16, passed as -DBF16=NAME_bf16 with -DMODEL_C="DIR/NAME.c"):
 * reads fp32 bit patterns from stdin, writes their rounded patterns. */
#include MODEL_C

#include <stdio.h>

int main(void)
{
	uint32_t u;
	while (fread(&u, sizeof u, 1, stdin) == 1) {
		float x;
		memcpy(&x, &u, sizeof x);
		x = BF16(x);
		memcpy(&u, &x, sizeof u);
		fwrite(&u, sizeof u, 1, stdout);
	}
	return 0;
}
