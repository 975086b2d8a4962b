// TensorFlow Lite 2.x (its interpreter compiled to WebAssembly, from npm
// @tensorflow/tfjs-tflite, fetched into .cache/tflite-wasm) runs one model
// on one input: the reference for models TFLite 2.2 cannot run (its C
// library has no integer LSTM). A fresh interpreter per run, so variable
// tensors (an LSTM's state) start from their reset values.
// usage: node tflite_lstm_reference.cjs WASM_DIR MODEL --random SEED OUT.npy   (writes a random input)
//        node tflite_lstm_reference.cjs WASM_DIR MODEL --expose TENSOR OUT.tflite   (makes an inner tensor the output)
//        node tflite_lstm_reference.cjs WASM_DIR MODEL INPUT.npy PARETO_OUTPUT.npy
//   prints "identical (N values)" and exits 0, or the differences and exits 1.
'use strict';
const fs = require('fs');
const vm = require('vm');

const kTypes = {uint8: ['|u1', Uint8Array], int8: ['|i1', Int8Array], float32: ['<f4', Float32Array], int32: ['<i4', Int32Array]};

function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const major = b[6], hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8), start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter(s => s.trim()).map(Number);
  const entry = Object.values(kTypes).find(([d]) => d === descr);
  if (!entry) throw new Error(path + ': dtype ' + descr + ' not handled');
  const data = b.subarray(start + hlen);
  return {descr, shape, values: new entry[1](data.buffer.slice(data.byteOffset, data.byteOffset + data.length))};
}

function writeNpy(path, descr, shape, bytes) {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1, h[7] = 0, h.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]));
}

// A copy of the model whose (single) output is tensor `index` instead: an
// inner tensor (the LSTM's whole output sequence) compared, not only the
// classifier's saturated scores. Patches the first subgraph's outputs vector.
function exposeTensor(modelPath, index, outPath) {
  const b = Buffer.from(fs.readFileSync(modelPath));
  const table = (at) => {
    const vt = at - b.readInt32LE(at), vlen = b.readUInt16LE(vt);
    return (field) => {
      if (4 + 2 * field >= vlen) return 0;
      const off = b.readUInt16LE(vt + 4 + 2 * field);
      return off ? at + off : 0;
    };
  };
  const deref = (at) => at + b.readUInt32LE(at);
  const model = table(deref(0));
  const subgraphs = deref(model(2));
  const subgraph = table(deref(subgraphs + 4));
  const outputs = deref(subgraph(2));
  if (b.readUInt32LE(outputs) !== 1) throw new Error('one model output expected');
  const tensors = deref(subgraph(0));
  if (index < 0 || index >= b.readUInt32LE(tensors)) throw new Error('no tensor ' + index);
  b.writeInt32LE(index, outputs + 4);
  fs.writeFileSync(outPath, b);
}

async function main() {
  const [dir, modelPath, a, b, c] = process.argv.slice(2);
  if (a === '--expose') {
    exposeTensor(modelPath, Number(b), c);
    return 0;
  }
  vm.runInThisContext(fs.readFileSync(dir + '/tflite_web_api_cc.js', 'utf8'));
  const M = await tflite_web_api_ModuleFactory({wasmBinary: fs.readFileSync(dir + '/tflite_web_api_cc.wasm'), print: () => {}, printErr: () => {}});
  const model = new Uint8Array(fs.readFileSync(modelPath));
  const at = M._malloc(model.length);
  M.HEAPU8.set(model, at);
  const made = M.TFLiteWebModelRunner.CreateFromBufferAndOptions(at, model.length, {numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024});
  if (!made.ok()) throw new Error(modelPath + ': ' + made.errorMessage());
  const runner = made.value();
  const inputs = runner.GetInputs(), outputs = runner.GetOutputs();
  if (inputs.size() !== 1 || outputs.size() !== 1) throw new Error('one input and one output expected');
  const input = inputs.get(0), output = outputs.get(0);
  const [descr] = kTypes[input.dataType] || [];
  if (!descr) throw new Error('input type ' + input.dataType + ' not handled');
  const shape = String(input.shape).split(',').map(Number);
  if (a === '--random') {
    // A small LCG, so that a seed names the same input everywhere.
    let state = (Number(b) * 2654435761) >>> 0;
    const x = input.data();
    for (let i = 0; i < x.length; ++i) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      x[i] = state >>> 24;
    }
    writeNpy(c, descr, shape, new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice());
    console.log('input=' + input.name);
    return 0;
  }
  const given = readNpy(a);
  if (given.descr !== descr || String(given.shape) !== String(shape)) throw new Error(a + ': ' + given.descr + ' ' + given.shape + ', the model takes ' + descr + ' ' + shape);
  input.data().set(given.values);
  if (!runner.Infer()) throw new Error('inference failed');
  const want = output.data(), got = readNpy(b);
  const [outDescr] = kTypes[output.dataType] || [];
  const outShape = String(output.shape).split(',').map(Number);
  if (got.descr !== outDescr || String(got.shape) !== String(outShape))
    throw new Error(b + ': ' + got.descr + ' ' + got.shape + ', TFLite wrote ' + outDescr + ' ' + outShape);
  const diffs = [];
  for (let i = 0; i < want.length; ++i) if (got.values[i] !== want[i]) diffs.push(`[${i}] pareto ${got.values[i]} tflite ${want[i]}`);
  if (diffs.length) {
    console.log(diffs.length + ' of ' + want.length + ' values differ: ' + diffs.slice(0, 5).join(', '));
    return 1;
  }
  console.log(`identical (${want.length} values; TFLite: ${Array.from(want).join(' ')})`);
  return 0;
}

main().then(code => process.exit(code), e => { console.log('error: ' + e.message); process.exit(2); });
