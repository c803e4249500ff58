// Runs a model's op list (NAME.tfjs.json + .bin, written by make_models.py
// from the .dyce) with TensorFlow.js, using the fused ops (conv / depthwise
// / matMul with bias and activation) so the peer gets its fast paths.
import { PARAMS } from '../../wasm/codes.mjs';

const FUSED = { none: 'linear', relu: 'relu' };

/** tfjs fused activation name for a dyce activation, or null. */
function fusedAct(op) {
  if (op.act === 'clip' && op.a === 0 && op.b === 6) return 'relu6';
  return FUSED[op.act] ?? null;
}

function activate(tf, op, x) {
  switch (op.act) {
    case 'none': return x;
    case 'relu': return tf.relu(x);
    case 'clip': return tf.clipByValue(x, op.a, op.b);
    case 'sigmoid': return tf.sigmoid(x);
    case 'tanh': return tf.tanh(x);
    case 'leaky_relu': return tf.leakyRelu(x, op.a);
    // No fused or single op in tfjs for these: composed as the peer's users would.
    case 'hard_sigmoid': return tf.clipByValue(tf.add(tf.mul(x, op.a), op.b), 0, 1);
    case 'hard_swish': return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
    case 'silu': return tf.mul(x, tf.sigmoid(x));
    case 'gelu': return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    default: throw new Error(`tfjs peer: activation ${op.act} not supported`);
  }
}

/** Explicit padding as tfjs takes it: a number when symmetric. */
function padOf(p) {
  const [t, l, b, r] = [p[PARAMS.PAD_T], p[PARAMS.PAD_L], p[PARAMS.PAD_B], p[PARAMS.PAD_R]];
  if (t === l && l === b && b === r) return t;
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

const bitsToFloat = (bits) => new Float32Array(new Int32Array([bits]).buffer)[0];

/** The ops transformers bring, as tfjs users would write them: LayerNorm
 * over each token's channels, head slices, reshapes, per-head products
 * and softmax. Returns the result, or undefined for another op. */
function tokenOp(tf, op, t, shapes) {
  const a = t[op.in[0]], p = op.p, [, h, w, c] = shapes[op.in[0]];
  const heads = (x, rows, g) => tf.transpose(tf.reshape(x, [rows, g, -1]), [1, 0, 2]);
  switch (op.op) {
    case 'group_norm': {
      if (!p[PARAMS.NORM_PIXELWISE]) throw new Error('tfjs peer: group_norm over more than a pixel');
      const { mean, variance } = tf.moments(a, [3], true);
      const norm = tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, bitsToFloat(p[PARAMS.NORM_EPS]))));
      return tf.add(tf.mul(norm, op.W), op.B);
    }
    case 'channel_gather': return tf.gather(a, op.I, 3);
    case 'view': return tf.reshape(a, shapes[op.out]);
    case 'softmax': {
      const g = Math.max(p[PARAMS.SOFTMAX_GROUPS], 1);
      return tf.reshape(tf.softmax(tf.reshape(a, [h * w, g, c / g])), [1, h, w, c]);
    }
    case 'matmul': {
      if (p[PARAMS.MATMUL_ROWWISE]) return undefined; // windows: not planned here
      const g = p[PARAMS.MATMUL_GROUPS], b = t[op.in[1]], [, bh, bw] = shapes[op.in[1]];
      const y = tf.matMul(heads(a, h * w, g), heads(b, bh * bw, g), false, p[PARAMS.MATMUL_TRANS_B] === 1);
      return tf.mul(tf.reshape(tf.transpose(y, [1, 0, 2]), shapes[op.out]), bitsToFloat(p[PARAMS.MATMUL_ALPHA]));
    }
    default: return undefined;
  }
}

/** Builds fn(inputNHWC) -> output tensor; weights are uploaded once. */
export function buildTfjsModel(tf, plan, blob) {
  const floats = new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  const weight = (w) => (w ? tf.tensor(floats.subarray(w[0], w[0] + w[1].reduce((a, b) => a * b, 1)), w[1]) : undefined);
  const ops = plan.ops.map((op) => ({ ...op, W: weight(op.w), B: weight(op.bias),
    I: op.op === 'channel_gather' ? tf.tensor1d(Int32Array.from(weight(op.w).dataSync()), 'int32') : undefined }));
  const forward = (x) => {
    const t = [];
    t[plan.input] = x;
    for (const op of ops) {
      const a = t[op.in[0]], p = op.p;
      let y, fused = fusedAct(op);
      const conv = { x: a, filter: op.W, strides: [p[PARAMS.SH], p[PARAMS.SW]], pad: padOf(p),
        dilations: [p[PARAMS.DH], p[PARAMS.DW]], bias: op.B, activation: fused ?? 'linear' };
      switch (op.op) {
        case 'conv2d': y = tf.fused.conv2d(conv); break;
        case 'depthwise': y = tf.fused.depthwiseConv2d(conv); break;
        case 'fully_connected': {
          const k = plan.shapes[op.in[0]][3], n = plan.shapes[op.out][3];
          y = tf.reshape(tf.fused.matMul({ a: tf.reshape(a, [1, k]), b: op.W, bias: op.B,
            activation: fused ?? 'linear' }), [1, 1, 1, n]);
          break;
        }
        case 'add': case 'mul': {
          const b = op.in.length > 1 ? t[op.in[1]]
            : op.W.size === a.size ? tf.reshape(op.W, a.shape) : op.W;   // a constant per element
          y = op.op === 'add' ? tf.add(a, b) : tf.mul(a, b);
          fused = null;
          break;
        }
        case 'global_avg_pool': y = tf.mean(a, [1, 2], true); fused = null; break;
        case 'max_pool':
          y = tf.maxPool(a, [p[PARAMS.KH], p[PARAMS.KW]], [p[PARAMS.SH], p[PARAMS.SW]], padOf(p)); fused = null; break;
        case 'avg_pool':
          y = tf.avgPool(a, [p[PARAMS.KH], p[PARAMS.KW]], [p[PARAMS.SH], p[PARAMS.SW]], padOf(p)); fused = null; break;
        case 'flatten': /* dyce flattens in CHW order */
          y = tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [1, 1, 1, -1]); fused = null; break;
        case 'activation': y = a; fused = null; break;
        case 'channel_affine': y = tf.add(tf.mul(a, op.W), op.B); fused = null; break;
        default:
          y = tokenOp(tf, op, t, plan.shapes);
          if (y === undefined) throw new Error(`tfjs peer: op ${op.op} not supported`);
          fused = null;
      }
      t[op.out] = fused ? y : activate(tf, op, y);
    }
    return t[plan.output];
  };
  const dispose = () => ops.forEach((op) => { op.W?.dispose(); op.B?.dispose(); op.I?.dispose(); });
  return { forward, dispose };
}
