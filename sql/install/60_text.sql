/* 60_text.sql: text models -- tokenizers, generation, embeddings, text classification (part of maas--0.2.sql) */

/*
 * GPT-2 and BERT register with maas_register(model, 'gpt2' | 'bert',
 * weights, config): Hugging Face's model.safetensors and config.json with
 * the tokenizer's files under "tokenizer" (doc/text-models.md).  These
 * functions serve them.  Like maas_predict they resolve the deployed (or a
 * pinned) version once per statement, serve the model's owner and whom it
 * is granted to, write nothing and run on standbys.  maas_generate is
 * VOLATILE: it samples when asked to.  It takes a pinned version as the
 * "version" key of its params: an overload with a version argument would
 * make a call with three untyped literals ambiguous.
 */
CREATE FUNCTION maas_tokenize(model text, input text)
RETURNS integer[]
AS 'MODULE_PATHNAME', 'maas_tokenize'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_detokenize(model text, ids integer[])
RETURNS text
AS 'MODULE_PATHNAME', 'maas_detokenize'
LANGUAGE C STABLE PARALLEL SAFE COST 100;

CREATE FUNCTION maas_logits(model text, ids integer[])
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_logits'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_embed(model text, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_embed'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_generate(model text, prompt text, params jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'maas_generate'
LANGUAGE C VOLATILE PARALLEL SAFE COST 100000;

/* the same over a prompt of token ids, special tokens included: the new ids */
CREATE FUNCTION maas_generate_ids(model text, ids integer[], params jsonb DEFAULT '{}')
RETURNS integer[]
AS 'MODULE_PATHNAME', 'maas_generate_ids'
LANGUAGE C VOLATILE PARALLEL SAFE COST 100000;

/* a text classifier's answers for one text */
CREATE FUNCTION maas_predict(model text, input text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict(model text, version integer, input text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'maas_predict_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_proba(model text, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_proba(model text, version integer, input text)
RETURNS real[]
AS 'MODULE_PATHNAME', 'maas_predict_proba_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_label(model text, input text)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

CREATE FUNCTION maas_predict_label(model text, version integer, input text)
RETURNS text
AS 'MODULE_PATHNAME', 'maas_predict_label_text'
LANGUAGE C STABLE PARALLEL SAFE COST 10000;

/* embeddings of a row set, many texts a forward pass: query yields (key, text) */
CREATE FUNCTION maas_embed_batch(model text, query text,
								 batch_size integer DEFAULT NULL,
								 version integer DEFAULT NULL)
RETURNS TABLE (id bigint, embedding real[])
AS 'MODULE_PATHNAME', 'maas_embed_batch'
LANGUAGE C STABLE PARALLEL RESTRICTED COST 1000 ROWS 1000;
