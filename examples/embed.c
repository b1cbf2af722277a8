/* embed.c - score one 28x28 image with an exported model. Build it with
 *   aecc export examples/small_ae.ae --weights small_ae.safetensors -o out
 *   cc -std=c99 -O2 -Iout examples/embed.c out/small_ae_infer.c -lm
 * and give it the image's 784 bytes: ./a.out < image.raw */
#include <stdio.h>

#include "small_ae_infer.h"

int main(void)
{
	static double work[(SMALL_AE_INFER_WORK_BYTES + 7) / 8]; /* 8-byte aligned */
	unsigned char pixels[SMALL_AE_INFER_INPUT0_SIZE];
	small_ae_infer_real x[SMALL_AE_INFER_INPUT0_SIZE], score;
	if (fread(pixels, 1, sizeof pixels, stdin) != sizeof pixels)
		return 1;
	for (int i = 0; i < SMALL_AE_INFER_INPUT0_SIZE; i++)
		x[i] = pixels[i] * (1.0f / 255);
	small_ae_infer_score(work, x, &score);
	printf("score %.9g\n", score);
	return 0;
}
