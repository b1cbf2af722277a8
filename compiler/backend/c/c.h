/* c.h - the C backend: a planned model as C99 text in memory, NAME.h (the
 * public API), NAME.c (the model's functions) and NAME_main.c (the
 * descriptor the aecc runtime drives). Writing the text to files is a
 * separate step (c_write). */
#ifndef AECC_BACKEND_C_H
#define AECC_BACKEND_C_H

#include "model.h"

/* The three files of one model, as text. */
typedef struct CFiles {
	Buf h;    /* NAME.h */
	Buf c;    /* NAME.c */
	Buf main; /* NAME_main.c */
} CFiles;

/* Render the model's C into *out (emit.c). */
void c_render(Model *m, CFiles *out);
/* Render NAME_main.c into o (descriptor.c). */
void c_render_main(Model *m, Buf *o);
/* 1 if the model has NAME_sample (the decoder reads only the latent). */
int c_has_sample(Model *m);
/* 1 if the model draws a latent in training (a gaussian), which
 * NAME_loss_terms draws too when given a seed. */
int c_draws_latent(const Model *m);
/* 1 if NAME_decode takes model input i besides the latent (a conditional
 * model's label). */
int c_decode_reads(Model *m, int i);
/* The latent when it is a gaussian(mu, logvar) draw (a VAE's), else NULL:
 * NAME_encode_gaussian gives its mean and log-variance. */
const Node *c_gaussian_latent(Model *m);

/* 1 if a live node of a part in `parts` (bit 1 << PART_*) reads model
 * input i. */
int c_reads_input(Model *m, int i, unsigned parts);
/* Write the rendered files into dir, each atomically; reports an error
 * and returns 0 on failure (emit.c). */
int c_write(Model *m, const CFiles *f, const char *dir);

#endif
