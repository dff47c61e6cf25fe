// Runs one ONNX graph with onnxruntime-node for the Python parity tests.
// usage: node scripts/ort-run.mjs model.onnx inputs.json  -> JSON {outputName: {dims, data}} on stdout
// inputs.json: {"name": {"dtype": "int32"|"float32", "dims": [...], "data": [...]}, ...}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [model, inputsPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(inputsPath, 'utf8'));
const feeds = {};
for (const [name, t] of Object.entries(spec)) {
  const Ctor = t.dtype === 'int32' ? Int32Array : t.dtype === 'int64' ? BigInt64Array : Float32Array;
  const data = t.dtype === 'int64' ? Ctor.from(t.data.map(BigInt)) : Ctor.from(t.data);
  feeds[name] = new ort.Tensor(t.dtype, data, t.dims);
}
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
const result = await session.run(feeds);
const out = {};
for (const [name, t] of Object.entries(result)) out[name] = { dims: t.dims, data: Array.from(t.data) };
process.stdout.write(JSON.stringify(out));
