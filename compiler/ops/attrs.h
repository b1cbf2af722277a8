/* attrs.h - the attributes and inputs that some op groups name, shared by
 * their definitions (compiler/ops/) and the backends' rows for them.
 * Requires: ops.h. Provides: the layouts, and the geometry of a
 * convolution node. Ops that name no attribute use iattr/fattr as their
 * comments say. */
#ifndef AECC_ATTRS_H
#define AECC_ATTRS_H

#include "ops.h"

/* ---- convolutions and pooling (conv.c) ---- */

/* Attributes of the convolution nodes (conv2d, conv_transpose2d,
 * conv2d_dw) and of the pooling ones (A_KERNEL, A_STRIDE). */
enum {
	A_BIAS,      /* 1: a bias input follows the workspace */
	A_KERNEL,    /* k, the kernel's side */
	A_STRIDE,    /* s */
	A_PAD,       /* p, zeros added on every side of the image */
	A_OUTPAD_H,  /* image rows below the last one the map reaches (< s) */
	A_OUTPAD_W,  /* image columns right of the last one the map reaches */
	A_ACT,       /* conv2d, conv_transpose2d: an activation applied to each
	                sample's result, + 1 (fuse.c; fattr[0] its slope) */
	A_ACT_Y,     /* 1: instead, the result times the activation's derivative
	                read off y = f(x), the last input */
};

/* Inputs of conv2d and conv_transpose2d; conv2d_dw reads (map gradient,
 * image, workspace). */
enum { IN_X, IN_W, IN_WS, IN_B };

/* Both sides of a convolution. */
typedef struct Geom {
	int C, H, W;   /* image: channels, height, width */
	int O, OH, OW; /* map: channels, height, width */
	int k, s, p;   /* kernel side, stride, padding */
} Geom;

/* The geometry of a conv2d, conv_transpose2d or conv2d_dw node. */
Geom conv_geom(const Node *n);

/* 1 when the kernel is the image, unpadded (k = H = W, p = 0, so the map
 * is one pixel): a sample's columns are then its image, and its map with
 * channels last is its map, so the products read and write the values
 * themselves and need no workspace. */
int conv_whole(Geom g);

/* How threads share the work of each chunk of a weight gradient dW
 * [O, C k k] (its samples in order, so each weight is summed in the order
 * of one product over the batch): 1, by the image's channels, when its
 * columns are wider than the map (each thread im2col of its channels and
 * its columns of dW, in a buffer; every thread transposes the whole map);
 * 0, by the map's channels (each thread the transposes of its channels and
 * its rows of dW, in place; every thread takes the whole im2col). */
int conv_dw_split(Geom g);

/* The workspace of a weight gradient in chunks of `samples` shared by
 * `slots` threads: the part each thread computes for its share, a copy
 * of the other part for each, and, split by image channels, the columns
 * of dW. */
long conv_dw_words(Geom g, long samples, long slots);

/* ---- batch normalization (norm.c) ---- */

/* Rows of bn_stats' value, each C wide. */
enum { ST_MEAN, ST_INVSTD, ST_NEW_MEAN, ST_NEW_VAR, ST_ROWS };

/* fattr of bn_stats and batchnorm. */
enum { F_MOMENTUM, F_EPS };

/* bn_reduce's iattr[0]: which per-channel sum. */
enum { SUM_DY, SUM_DY_XHAT };

/* ---- kl_normal (variational.c) ---- */

/* iattr[0] of kl_normal and kl_normal_grad: the reduction. */
enum { KL_SUM, KL_MEAN, KL_BATCHMEAN };

/* ---- kl_sparsity (sparse.c) ---- */

/* kl_sparsity clamps the mean activation into [KL_CLAMP, 1 - KL_CLAMP] so
 * that both logs stay finite when a unit is always off or always on. */
#define KL_CLAMP 1e-6

#endif
