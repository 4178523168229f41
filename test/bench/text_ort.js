// ONNX Runtime peer of the BERT-base benchmark (test/bench/text_torch.py):
// the torch.onnx.export of the BERT-base shape on one batch of 32 x 128.
//   node text_ort.js MODEL.onnx INPUTS.bin [threads (2)] [runs (3)]
// INPUTS.bin holds input_ids, token_type_ids and attention_mask, each
// 32 x 128 little-endian int64, one after the other.  ORT_NODE_DIR names the
// node_modules that holds onnxruntime-node.  Prints "RESULT seconds S" (the
// median of the runs, after one warm-up) and "LOGITS0 [...]", the first
// sequence's logits, for the caller to check against torch.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || 'node_modules', 'onnxruntime-node'));

const [model, inputs] = process.argv.slice(2, 4);
const threads = Number(process.argv[4] || 2);
const runs = Number(process.argv[5] || 3);
const B = 32;
const T = 128;

const seconds = () => Number(process.hrtime.bigint()) / 1e9;
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

async function main() {
  const raw = fs.readFileSync(inputs);
  const n = B * T;
  if (raw.byteLength !== 3 * n * 8) throw new Error(`${inputs}: expected ${3 * n * 8} bytes`);
  const all = new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const feeds = {};
  ['input_ids', 'token_type_ids', 'attention_mask'].forEach((name, i) => {
    feeds[name] = new ort.Tensor('int64', all.subarray(i * n, (i + 1) * n), [B, T]);
  });
  const s = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  for (const name of Object.keys(feeds)) {
    if (!s.inputNames.includes(name)) delete feeds[name];  // an input the graph folded away
  }
  let out = await s.run(feeds);
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t0 = seconds();
    out = await s.run(feeds);
    times.push(seconds() - t0);
  }
  const logits = out[s.outputNames[0]].data;
  const per = logits.length / B;
  console.log(`RESULT seconds ${median(times)}`);
  console.log(`LOGITS0 ${JSON.stringify(Array.from(logits.slice(0, per)))}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
