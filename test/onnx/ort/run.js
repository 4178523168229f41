// Runs an ONNX fixture of test/fixtures/onnx in ONNX Runtime, on the rows
// its NAME.rows.json holds, and prints that file again with each row's
// outputs ("y") replaced by ONNX Runtime's, for test/t/086_onnx_ort.pl to
// compare with maas.
//
//   node test/onnx/ort/run.js test/fixtures/onnx/NAME.onnx test/fixtures/onnx/NAME.rows.json
//
// Feature models take "x" (one row, reshaped to the graph's input shape
// with a batch of 1); a language model takes "ids" (its first "length"
// tokens) and gives the logits of the last position, as maas_logits does.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, rowsFile] = process.argv.slice(2);
  if (!model || !rowsFile) {
    console.error('usage: node run.js MODEL.onnx ROWS.json');
    process.exit(2);
  }
  const fixture = JSON.parse(fs.readFileSync(rowsFile, 'utf8'));
  const s = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  if (s.inputNames.length !== 1)
    throw new Error(`${model}: ${s.inputNames.length} inputs; run.js feeds one`);
  const meta = s.inputMetadata[0];
  const name = s.inputNames[0];
  const out = s.outputNames[0];
  for (const row of fixture.rows) {
    let feed;
    if (row.x !== undefined) {
      const dims = [1, ...meta.shape.slice(1)];
      const n = dims.reduce((a, b) => a * b, 1);
      if (n !== row.x.length)
        throw new Error(`${model}: a row of ${row.x.length} values for input shape ${dims}`);
      feed = new ort.Tensor('float32', Float32Array.from(row.x), dims);
    } else {
      const ids = row.ids.slice(0, row.length).map(BigInt);
      feed = new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]);
    }
    const y = (await s.run({ [name]: feed }))[out];
    let values = Array.from(y.data);
    if (row.x === undefined) {
      const vocab = y.dims[y.dims.length - 1];
      values = values.slice(values.length - vocab);
    }
    row.y = values;
  }
  fixture.engine = `onnxruntime-node ${require(path.join(__dirname, 'node_modules', 'onnxruntime-node', 'package.json')).version}`;
  process.stdout.write(JSON.stringify(fixture) + '\n');
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
