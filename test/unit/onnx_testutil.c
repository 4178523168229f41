/*
 * onnx_testutil.c
 *		A model read and translated into a net (onnx_testutil.h).
 */
#include "onnx_testutil.h"

#include <stdio.h>
#include <string.h>

uint8_t *
onnx_read_file(const char *path, size_t *len)
{
	FILE	   *fp = fopen(path, "rb");
	uint8_t    *buf;
	long		n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
	{
		fclose(fp);
		return NULL;
	}
	buf = maas_kalloc((size_t) n + 1);
	if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n)
	{
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

bool
onnx_import(const uint8_t *buf, size_t len, const MaasOnnxTranslateOptions *opts,
			OnnxNet *on, MaasError *err)
{
	memset(on, 0, sizeof(*on));
	if ((on->model = maas_onnx_read(buf, len, NULL, NULL, err)) == NULL)
		return false;
	if (!maas_onnx_translate(on->model, opts, &on->imp, NULL, err))
		return false;
	if (on->imp.n_layers == 0)
		return true;			/* every output a constant */
	if ((on->weights = maas_onnx_write_weights(&on->imp, &on->weights_len, err)) == NULL)
		return false;
	if (!st_parse(on->weights, on->weights_len, &on->file, err))
		return false;
	if ((on->config = maas_json_parse(on->imp.config.data, on->imp.config.len, 0,
									  NULL, err)) == NULL)
		return false;
	return maas_net_build(&on->net, on->config, &on->file, true, err);
}
