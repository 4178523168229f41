// ONNX Runtime peer of the CNN benchmark: the exported Fashion-MNIST CNN
// (cnn.onnx from test/bench/cnn_torch.py --save DIR) on the 10,000 test rows,
// as one batch and as 1,000 single-row calls, like test/bench/ort.js.
//   node cnn_ort.js DIR   (ORT_NODE_DIR = where onnxruntime-node is installed)
// Prints "RESULT batch10000 seconds rows", "RESULT row seconds rows" (medians
// of 5 runs) and "RESULT accuracy a"; intraOpNumThreads THREADS (default 2),
// like maas with maas.blas_threads = 2.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_NODE_DIR || '/var/tmp/maas-bench/ortnode/node_modules',
  'onnxruntime-node'));

const dir = process.argv[2] || '.';
const RUNS = 5;
const ROWS = 1000;
const PIX = 28 * 28;

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const seconds = () => Number(process.hrtime.bigint()) / 1e9;

async function main() {
  const raw = fs.readFileSync(path.join(dir, 'test_x.f32'));
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const y = fs.readFileSync(path.join(dir, 'test_y.u8'));
  const n = x.length / PIX;
  const s = await ort.InferenceSession.create(path.join(dir, 'cnn.onnx'), {
    executionProviders: ['cpu'], intraOpNumThreads: Number(process.env.THREADS || 2),
    interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const inp = s.inputNames[0];
  const out = s.outputNames[0];
  const all = new ort.Tensor('float32', x, [n, 1, 28, 28]);
  const first = (await s.run({ [inp]: all }))[out].data;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (first[i * 10 + k] > first[i * 10 + best]) best = k;
    correct += best === y[i];
  }
  const tb = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = seconds();
    await s.run({ [inp]: all });
    tb.push(seconds() - t0);
  }
  const one = (i) => new ort.Tensor('float32', x.subarray(i * PIX, (i + 1) * PIX), [1, 1, 28, 28]);
  for (let i = 0; i < 100; i++) await s.run({ [inp]: one(i) });
  const tr = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = seconds();
    for (let i = 0; i < ROWS; i++) await s.run({ [inp]: one(i) });
    tr.push(seconds() - t0);
  }
  console.log(`RESULT batch${n} ${median(tb).toFixed(6)} ${n}`);
  console.log(`RESULT row ${median(tr).toFixed(6)} ${ROWS}`);
  console.log(`RESULT accuracy ${(correct / n).toFixed(4)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
