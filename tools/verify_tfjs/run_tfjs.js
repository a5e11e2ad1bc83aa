// Runs a TF.js graph model from local files on the pure-JS CPU backend and dumps its outputs.
//
// usage: node run_tfjs.js <model.json> <input.bin> <dims comma-separated> <out dir> [output names...]
// The input is raw little-endian float32. Each output is written as <out dir>/<i>.bin (float32)
// and described in <out dir>/outputs.json. No network: weights are read from disk.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function readArtifacts(modelJson) {
  const doc = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const buffers = [];
  for (const group of doc.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  return {
    modelTopology: doc.modelTopology,
    format: doc.format,
    generatedBy: doc.generatedBy,
    convertedBy: doc.convertedBy,
    signature: doc.signature,
    userDefinedMetadata: doc.userDefinedMetadata,
    modelInitializer: doc.modelInitializer,
    weightSpecs,
    // A standalone ArrayBuffer: Node Buffers may be views into a larger pool.
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  };
}

async function main() {
  const [modelJson, inputBin, dimsArg, outDir, ...outputNames] = process.argv.slice(2);
  if (!modelJson || !inputBin || !dimsArg || !outDir) {
    throw new Error('usage: node run_tfjs.js <model.json> <input.bin> <dims> <out dir> [outputs...]');
  }
  await tf.setBackend('cpu');
  await tf.ready();
  const model = await tf.loadGraphModel(tf.io.fromMemory(readArtifacts(modelJson)));
  const dims = dimsArg.split(',').map(Number);
  const raw = fs.readFileSync(inputBin);
  const values = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const input = tf.tensor(values, dims, 'float32');
  const names = outputNames.length ? outputNames : model.outputs.map((o) => o.name);
  const started = Date.now();
  let outs = model.execute(input, names);
  const ms = Date.now() - started;
  if (!Array.isArray(outs)) outs = [outs];
  fs.mkdirSync(outDir, { recursive: true });
  const described = [];
  for (let i = 0; i < outs.length; i += 1) {
    const data = await outs[i].data();
    const file = `${i}.bin`;
    fs.writeFileSync(path.join(outDir, file), Buffer.from(new Float32Array(data).buffer));
    described.push({ name: names[i], shape: outs[i].shape, file });
  }
  fs.writeFileSync(
    path.join(outDir, 'outputs.json'),
    JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, ms, outputs: described }, null, 1),
  );
  process.stdout.write(`tfjs ${tf.version.tfjs} (${tf.getBackend()}): ${names.length} outputs in ${ms} ms\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
