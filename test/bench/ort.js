// ONNX Runtime peer for test/bench/inference: the exported MLP (mlp.onnx)
// on the 10,000 test rows, as one batch and as single-row calls.
//   node ort.js DATADIR   (ORT_NODE_DIR = where onnxruntime-node is installed)
// Prints "RESULT batch10000 seconds rows" and "RESULT row seconds rows",
// medians of 5 runs; intraOpNumThreads 2, like maas with maas.blas_threads = 2.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || '/var/tmp/maas-bench/ortnode/node_modules',
  'onnxruntime-node'));

const dir = process.argv[2] || '.';
const RUNS = 5;
const ROWS = 1000;  // single-row calls per run

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const seconds = () => Number(process.hrtime.bigint()) / 1e9;

async function main() {
  const raw = fs.readFileSync(path.join(dir, 'test_x.f32'));
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const n = x.length / 784;
  const s = await ort.InferenceSession.create(path.join(dir, 'mlp.onnx'), {
    executionProviders: ['cpu'], intraOpNumThreads: 2, interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const inp = s.inputNames[0];
  const all = new ort.Tensor('float32', x, [n, 784]);
  await s.run({ [inp]: all });
  const tb = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = seconds();
    await s.run({ [inp]: all });
    tb.push(seconds() - t0);
  }
  const one = (i) => new ort.Tensor('float32', x.subarray(i * 784, (i + 1) * 784), [1, 784]);
  for (let i = 0; i < 100; i++) await s.run({ [inp]: one(i) });
  const tr = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = seconds();
    for (let i = 0; i < ROWS; i++) await s.run({ [inp]: one(i) });
    tr.push(seconds() - t0);
  }
  console.log(`RESULT batch${n} ${median(tb).toFixed(6)} ${n}`);
  console.log(`RESULT row ${median(tr).toFixed(6)} ${ROWS}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
