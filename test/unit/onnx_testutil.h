/*
 * onnx_testutil.h
 *		What the ONNX translator's tests share (test_onnx_translate.c, the
 *		conformance runner of test/onnx): a model read and translated into a
 *		net ready to run, as the server does at registration.
 */
#ifndef MAAS_ONNX_TESTUTIL_H
#define MAAS_ONNX_TESTUTIL_H

#include "net.h"
#include "net_build.h"
#include "onnx_translate.h"

typedef struct OnnxNet
{
	MaasOnnxModel *model;
	MaasOnnxImport imp;
	uint8_t    *weights;		/* the safetensors file written */
	size_t		weights_len;
	StFile		file;
	MaasJson   *config;
	MaasNet		net;
} OnnxNet;

/* the whole file in kernel memory, or NULL */
extern uint8_t *onnx_read_file(const char *path, size_t *len);

/*
 * Read, translate (opts may be NULL), write the safetensors, and build the
 * net from the config, checking the values; false with err set at the
 * first step that fails.
 */
extern bool onnx_import(const uint8_t *buf, size_t len,
						const MaasOnnxTranslateOptions *opts, OnnxNet *on,
						MaasError *err);

#endif							/* MAAS_ONNX_TESTUTIL_H */
