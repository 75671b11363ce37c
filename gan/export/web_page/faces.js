// The static faces page: generator.onnx in onnxruntime-web's WebAssembly backend, with no
// server but a static one. site.json (written by export.py --format web) describes the model
// and noise.bin, the noise numpy draws for seeds 0..seeds-1.
//
// Public: window.makeFaces(noise, n) -> Promise<Uint8Array>, the uint8 pixels (n, H, W, C)
// of n noise vectors (a Float32Array of n * noise size values), as the project's to_uint8
// makes them; window.seedNoise(seed, n) -> Float32Array, the noise the page uses for a seed.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_SEED = 4294967295;
const FACE_PIXELS = 128; // each face is shown at least this wide, by a whole-number factor
let site, table, session;
let queue = Promise.resolve(); // one generator call at a time

const product = (shape) => shape.reduce((a, b) => a * b, 1);

// Seeds below site.noise_table.seeds: numpy's default_rng(seed).standard_normal, from noise.bin.
// Other seeds: mulberry32(seed) uniforms through Box-Muller, pairs of values in order, each
// rounded to float32. The same faces on every visit, but not the ones generate.py draws.
function seedNoise(seed, n) {
  const size = product(site.model.noise_shape);
  const { seeds, faces_per_seed: perSeed } = site.noise_table;
  if (seed < seeds && n <= perSeed) return table.slice(seed * perSeed * size, (seed * perSeed + n) * size);
  const uniform = mulberry32(seed);
  const noise = new Float32Array(n * size);
  for (let i = 0; i < noise.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - uniform())), angle = 2 * Math.PI * uniform();
    noise[i] = radius * Math.cos(angle);
    if (i + 1 < noise.length) noise[i + 1] = radius * Math.sin(angle);
  }
  return noise;
}

function mulberry32(seed) {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// numpy's rint: halves go to the even neighbour.
function roundHalfEven(value) {
  const rounded = Math.round(value);
  return Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

// gan.pictures.grids.to_uint8 in float32: [-1, 1] -> 0..255, NaN as -1.
function toUint8(value) {
  const scaled = Math.fround(Math.fround((Number.isNaN(value) ? -1 : value) + 1) * 127.5);
  return Math.min(255, Math.max(0, roundHalfEven(scaled)));
}

async function generate(noise, n) {
  const input = new ort.Tensor("float32", Float32Array.from(noise), [n, ...site.model.noise_shape]);
  const output = await session.run({ [site.model.input]: input });
  return Uint8Array.from(output[site.model.output].data, toUint8);
}

function makeFaces(noise, n) {
  const run = queue.then(() => generate(noise, n));
  queue = run.catch(() => null);
  return run;
}

// gan.pictures.latent.interpolate: `steps` vectors along the great circle from a to b.
function interpolate(a, b, steps) {
  const dot = (x, y) => x.reduce((sum, value, i) => sum + value * y[i], 0);
  const cosine = dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
  const angle = Math.acos(Math.min(1, Math.max(-1, cosine)));
  const path = new Float32Array(steps * a.length);
  for (let s = 0; s < steps; s++) {
    const w = s === steps - 1 ? 1 : s * (1 / (steps - 1));
    for (let i = 0; i < a.length; i++) {
      path[s * a.length + i] = angle > 1e-6
        ? (Math.sin((1 - w) * angle) * a[i] + Math.sin(w * angle) * b[i]) / Math.sin(angle)
        : (1 - w) * a[i] + w * b[i];
    }
  }
  return path;
}

// gan.pictures.grids.grid_columns: near-square, no empty cell where one exists nearby.
function gridColumns(count) {
  const side = Math.ceil(Math.sqrt(count));
  for (let cols = side; cols <= side + Math.floor(side / 2); cols++) if (count % cols === 0) return cols;
  return side;
}

function canvases(pixels, n) {
  const [height, width, channels] = site.model.image_shape;
  const scale = Math.ceil(FACE_PIXELS / width);
  return Array.from({ length: n }, (_, face) => {
    const canvas = Object.assign(document.createElement("canvas"), { width, height });
    canvas.style.width = `${width * scale}px`;
    const picture = new ImageData(width, height);
    for (let p = 0; p < width * height; p++) {
      const at = (face * width * height + p) * channels;
      picture.data.set(channels === 1 ? [pixels[at], pixels[at], pixels[at], 255] : [...pixels.subarray(at, at + 3), 255], p * 4);
    }
    canvas.getContext("2d").putImageData(picture, 0, 0);
    return canvas;
  });
}

// A seed field's value, or an Error with the message the page shows.
function parseSeed(text, name) {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > MAX_SEED) throw new Error(`${name} must be an integer from 0 to ${MAX_SEED}; received '${text}'`);
  return Number(text);
}

async function show(container, errorLine, makeNoise, columns) {
  try {
    const [noise, n] = makeNoise();
    const faces = canvases(await makeFaces(noise, n), n);
    container.style.gridTemplateColumns = `repeat(${columns(n)}, auto)`;
    container.replaceChildren(...faces);
    errorLine.hidden = true;
  } catch (error) {
    errorLine.textContent = error.message;
    errorLine.hidden = false;
  }
  container.dataset.loads = Number(container.dataset.loads) + 1;
}

function showFaces() {
  return show($("faces"), $("faces-error"), () => {
    const n = Number($("count").value);
    if (!Number.isInteger(n) || n < 1 || n > site.max_faces) throw new Error(`faces must be an integer from 1 to ${site.max_faces}`);
    return [seedNoise(parseSeed($("seed").value, "seed"), n), n];
  }, gridColumns);
}

function showStrip() {
  const steps = Number($("steps").value);
  return show($("strip"), $("interpolation-error"), () => {
    const [a, b] = [parseSeed($("from-seed").value, "from seed"), parseSeed($("to-seed").value, "to seed")].map((seed) => seedNoise(seed, 1));
    return [interpolate(a, b, steps), steps];
  }, () => steps);
}

async function start() {
  ort.env.wasm.wasmPaths = new URL("./", location.href).href;
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain static host does not give
  site = await (await fetch("site.json")).json();
  table = new Float32Array(await (await fetch(site.noise_table.file)).arrayBuffer());
  session = await ort.InferenceSession.create(site.model.file, { executionProviders: ["wasm"] });
  const [height, width, channels] = site.model.image_shape;
  $("generator").textContent = `${site.model.file}: ${width}\u00d7${height}\u00d7${channels} faces, up to ${site.max_faces} a seed, computed in this browser.`;
  $("table-seeds").textContent = site.noise_table.seeds - 1;
  $("count").max = site.max_faces;
  Object.assign(window, { makeFaces, seedNoise });
  $("faces-form").addEventListener("submit", (event) => { event.preventDefault(); showFaces(); });
  $("new-faces").addEventListener("click", () => { $("seed").value = crypto.getRandomValues(new Uint32Array(1))[0]; showFaces(); });
  $("interpolation-form").addEventListener("submit", (event) => { event.preventDefault(); showStrip(); });
  $("steps").addEventListener("input", () => { $("steps-shown").textContent = $("steps").value; showStrip(); });
  await Promise.all([showFaces(), showStrip()]);
  document.body.dataset.ready = "true";
}

start().catch((error) => { $("generator").textContent = `The page could not start: ${error.message}`; });
