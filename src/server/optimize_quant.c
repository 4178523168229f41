/*
 * optimize_quant.c
 *		maas_quantize's new tensors: every dense layer that gains from it
 *		gets its weights in int8 (one F32 scale per output channel), bf16
 *		or f16, a tied embedding reads the same copy; and the helpers that
 *		add tensors to the new version, shared with optimize_prune.c.
 *
 * The layers' config patches and the tensors they no longer read are left
 * in the Builder for optimize.c to write the new version (optimize_int.h).
 */
#include "optimize_int.h"
#include "services.h"

#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/memutils.h"

void
opt_add_tensor(Builder *bd, const char *name, StDtype dtype, int ndim,
			   int64_t d0, int64_t d1, const void *data)
{
	NewTensor  *t;

	if (bd->n_add == bd->cap_add)
	{
		bd->cap_add = Max(16, bd->cap_add * 2);
		bd->add = bd->add ? repalloc(bd->add, sizeof(NewTensor) * bd->cap_add) :
			palloc(sizeof(NewTensor) * bd->cap_add);
	}
	t = &bd->add[bd->n_add++];
	t->name = pstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->data = data;
}

char *
opt_json_quote(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	escape_json(&b, s);
	return b.data;
}

/* a tensor's floats, aligned, [rows, cols] or transposed to [cols, rows] */
float *
opt_tensor_floats(const StTensor *t, bool transpose)
{
	size_t		n = (size_t) t->numel;
	float	   *f = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);

	if (!st_to_f32(t, f))
		elog(ERROR, "tensor \"%s\" is not floating", t->name);
	if (transpose)
	{
		int64_t		r = t->shape[0],
					c = t->shape[1];
		float	   *tr = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);

		for (int64_t i = 0; i < r; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (int64_t j = 0; j < c; j++)
				tr[j * r + i] = f[i * c + j];
		}
		pfree(f);
		f = tr;
	}
	return f;
}

const char *
opt_layer_string(const MaasJson *layer, const char *key)
{
	const MaasJson *v = maas_json_get(layer, key);

	return v != NULL && v->type == MAAS_JSON_STRING ? v->u.string : NULL;
}

/* quantize every dense layer that gains from it */
void
opt_quantize_layers(Opt *o, Builder *bd)
{
	MaasError	err;

	for (int i = 0; i < bd->layers->n; i++)
	{
		const MaasJson *l = maas_json_at(bd->layers, i);
		const char *op = opt_layer_string(l, "op");
		const char *wname = opt_layer_string(l, "weight");
		const char *layout = opt_layer_string(l, "layout");
		bool		in_out = layout != NULL && strcmp(layout, "in_out") == 0;
		const StTensor *t;
		int64_t		n,
					k;
		float	   *w;
		char	   *nm;

		CHECK_FOR_INTERRUPTS();
		if (op == NULL || strcmp(op, "dense") != 0 || wname == NULL ||
			(t = st_find(&o->file, wname)) == NULL || t->ndim != 2)
			continue;
		if (t->dtype != ST_F32)
		{
			o->n_kept++;
			continue;
		}
		n = in_out ? t->shape[1] : t->shape[0];
		k = in_out ? t->shape[0] : t->shape[1];
		if (o->method == OPT_INT8 && (n < o->min_outputs || k > MAAS_S8_MAX_K))
		{
			o->n_kept++;
			continue;
		}
		w = opt_tensor_floats(t, in_out && o->method != OPT_F16);
		if (o->method == OPT_INT8)
		{
			MaasWeights q;

			if (!maas_quantize_weights_s8(w, (int) n, (int) k, &q, &err))
				maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("could not quantize tensor \"%s\"", wname), NULL);
			nm = psprintf("%s.int8", wname);
			opt_add_tensor(bd, nm, ST_I8, 2, n, k, q.data);
			opt_add_tensor(bd, psprintf("%s.scale", wname), ST_F32, 1, n, 0, q.scale);
			bd->patch[i] = psprintf("\"weight\": %s, \"scale\": %s, \"layout\": \"out_in\"",
									opt_json_quote(nm), opt_json_quote(psprintf("%s.scale", wname)));
		}
		else
		{
			uint16_t   *h = palloc_extended(sizeof(uint16_t) * Max(t->numel, 1), MCXT_ALLOC_HUGE);

			if (o->method == OPT_BF16)
			{
				maas_f32_to_bf16_n(w, (size_t) t->numel, h);
				nm = psprintf("%s.bf16", wname);
				opt_add_tensor(bd, nm, ST_BF16, 2, n, k, h);
				bd->patch[i] = psprintf("\"weight\": %s, \"layout\": \"out_in\"", opt_json_quote(nm));
			}
			else
			{
				maas_f32_to_f16_n(w, (size_t) t->numel, h);
				nm = psprintf("%s.f16", wname);
				opt_add_tensor(bd, nm, ST_F16, 2, t->shape[0], t->shape[1], h);
				bd->patch[i] = psprintf("\"weight\": %s", opt_json_quote(nm));
			}
		}
		pfree(w);
		bd->replaced[i] = pstrdup(wname);
		o->n_changed++;
		o->total += t->numel;

		/*
		 * A tied LM head (GPT-2's wte): the embedding reads the same copy,
		 * widened when the net is built, so the float32 table goes.
		 */
		if (!in_out || o->method == OPT_F16)
			for (int j = 0; j < bd->layers->n; j++)
			{
				const MaasJson *e = maas_json_at(bd->layers, j);
				const char *eop = opt_layer_string(e, "op");
				const char *tok = opt_layer_string(e, "tokens");

				if (eop == NULL || strcmp(eop, "embedding") != 0 || tok == NULL ||
					strcmp(tok, wname) != 0 || bd->patch[j] != NULL)
					continue;
				bd->patch[j] = o->method == OPT_INT8 ?
					psprintf("\"tokens\": %s, \"tokens_scale\": %s", opt_json_quote(nm),
							 opt_json_quote(psprintf("%s.scale", wname))) :
					psprintf("\"tokens\": %s", opt_json_quote(nm));
				o->n_tied++;
			}
	}
}
