/*
 * blas_info.c
 *		maas_blas_info(): what runs the matrix products in this backend --
 *		the CPU and the features maas may use, the BLAS library and the
 *		OpenBLAS core it runs, oneDNN and its ISA, and for each operation
 *		which library and which kernel serve it, with the threads.
 *
 * The backend is opened with the session's settings first (as the first
 * prediction would), and oneDNN's chosen matmuls are run once on a small
 * shape, so the kernels are named as oneDNN names its implementations
 * ("brg:avx512_core") rather than by the ISA alone.
 */
#include "services.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#define INFO_COLS 7

static void
put_row(ReturnSetInfo *rsinfo, const char *component, const char *backend,
		const char *kernel, const char *library, const char *version,
		int threads, const char *detail)
{
	Datum		values[INFO_COLS];
	bool		nulls[INFO_COLS];
	const char *text[INFO_COLS] = {component, backend, kernel, library, version, NULL, detail};

	for (int i = 0; i < INFO_COLS; i++)
	{
		nulls[i] = i == 5 ? threads <= 0 : (text[i] == NULL || text[i][0] == '\0');
		values[i] = i == 5 ? Int32GetDatum(threads) :
			nulls[i] ? (Datum) 0 : CStringGetTextDatum(text[i]);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * maas_blas_info(): one row for the CPU, one per library, one per matrix
 * operation (component, backend, kernel, library, version, threads,
 * detail).  Opens the backend in this session if it is not open yet.
 */
PG_FUNCTION_INFO_V1(maas_blas_info_rows);
Datum
maas_blas_info_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext probe_cxt;
	MemoryContext old;
	const MaasBlasInfo *in;
	char		buf[MAAS_ERRLEN + 400];

	InitMaterializedSRF(fcinfo, 0);
	(void) maas_get_blas();

	/* the probe's scratch is kernel memory of its own */
	probe_cxt = AllocSetContextCreate(CurrentMemoryContext, "maas blas probe",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(probe_cxt);
	in = maas_blas_info(true);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(probe_cxt);
	if (in == NULL)
		elog(ERROR, "the matrix backend is open but has no info");

	snprintf(buf, sizeof(buf), "features: %s%s%s", in->cpu_features,
			 in->cpu_disabled[0] ? "; disabled by maas.cpu_features_disable: " : "",
			 in->cpu_disabled);
	{
		char		version[64];

		snprintf(version, sizeof(version), "family %d model %d", in->cpu_family, in->cpu_model);
		put_row(rsinfo, "cpu", NULL, in->cpu_brand, NULL, version, 0, buf);
	}

	if (in->blas_coretype[0])
		snprintf(buf, sizeof(buf), "OPENBLAS_CORETYPE=%s, from the CPU's features%s",
				 in->blas_coretype, in->preloaded ? "; opened in the postmaster" : "");
	else
		snprintf(buf, sizeof(buf), "%s", in->preloaded ? "opened in the postmaster" : "");
	put_row(rsinfo, "blas", "blas", in->blas_core, in->blas_library, in->blas_version,
			in->threads, buf);

	if (in->onednn_loaded)
	{
		snprintf(buf, sizeof(buf), "runtime %s%s", in->onednn_runtime,
				 in->preloaded ? "; opened in the postmaster" : "");
		if (in->onednn_failures > 0)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
					 "; %ld calls fell back to another backend", in->onednn_failures);
		put_row(rsinfo, "onednn", "onednn", in->onednn_isa, in->onednn_library,
				in->onednn_version, in->threads, buf);
	}
	else
		put_row(rsinfo, "onednn", NULL, NULL, in->onednn_library, NULL, 0,
				in->onednn_status[0] ? in->onednn_status : "not loaded");

	for (int i = 0; i < MAAS_GEMM_N_OPS; i++)
	{
		const MaasBlasOpInfo *op = &in->ops[i];
		const char *library = strcmp(op->backend, "blas") == 0 ? in->blas_library :
			strcmp(op->backend, "onednn") == 0 ? in->onednn_library : "maas";

		put_row(rsinfo, op->op, op->backend, op->kernel, library, NULL,
				strcmp(op->backend, "maas") == 0 ? 1 : in->threads, op->detail);
	}
	/* the conv2d op at inference: oneDNN's primitive, or im2col on sgemm */
	if (strncmp(in->conv2d, "onednn", 6) == 0)
		put_row(rsinfo, "conv2d", "onednn", in->conv2d + 7, in->onednn_library, NULL,
				in->threads, "im2col for a shape oneDNN has no primitive for");
	else
		put_row(rsinfo, "conv2d", "maas", "im2col", "maas", NULL, in->threads,
				"its products as sgemm's row says");
	return (Datum) 0;
	return (Datum) 0;
}
