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
    default: throw new Error(`tfjs peer: activation ${op.act} not supported`);
  }
}

/** Explicit padding as tfjs takes it: a number when symmetric. */
function padOf(p) {
  const [t, l, b, r] = [p[PARAMS.PAD_T], p[PARAMS.PAD_L], p[PARAMS.PAD_B], p[PARAMS.PAD_R]];
  if (t === l && l === b && b === r) return t;
  return [[0, 0], [t, b], [l, r], [0, 0]];
}

/** Builds fn(inputNHWC) -> output tensor; weights are uploaded once. */
export function buildTfjsModel(tf, plan, blob) {
  const floats = new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  const weight = (w) => (w ? tf.tensor(floats.subarray(w[0], w[0] + w[1].reduce((a, b) => a * b, 1)), w[1]) : undefined);
  const ops = plan.ops.map((op) => ({ ...op, W: weight(op.w), B: weight(op.bias) }));
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
          const b = op.in.length > 1 ? t[op.in[1]] : op.W;
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
        case 'softmax': y = tf.softmax(a); fused = null; break;
        case 'activation': y = a; fused = null; break;
        case 'channel_affine': y = tf.add(tf.mul(a, op.W), op.B); fused = null; break;
        default: throw new Error(`tfjs peer: op ${op.op} not supported`);
      }
      t[op.out] = fused ? y : activate(tf, op, y);
    }
    return t[plan.output];
  };
  const dispose = () => ops.forEach((op) => { op.W?.dispose(); op.B?.dispose(); });
  return { forward, dispose };
}
