"""Anchors for radbench's 3-D ResNet rows (`cnn-inference/resnet3d18w16-1x28x28x28` and
`cnn-train-step/resnet3d18w16-1x28x28x28` in benches/inference.rs): a ResNet-18 of base width 16
with the small stem (3x3x3 conv at stride 1, no max pool), 1x28x28x28 inputs (MedMNIST-3D size).

- onnxruntime: the same graph (batch norm folded into conv bias) built with the onnx helper API,
  random weights, 2 intra-op threads: batch-1 latency p50/p95.
- JAX: one training step on a batch of 32 (batch statistics, softmax cross-entropy, backward,
  AdamW with weight decay on rank>=2 weights, global-norm clipping 5.0), jit-compiled, CPU.

    /tmp/venv-cnn/bin/pip install numpy onnx onnxruntime jax
    /tmp/venv-cnn/bin/python benches/inference_anchors/resnet3d_anchors.py
"""
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import jax
import jax.numpy as jnp

WIDTH, SIDE, BLOCKS = 16, 28, [2, 2, 2, 2]
rng = np.random.default_rng(0)


def layout():
    """(c_in, c_out, stride, has_downsample) of every basic block."""
    out, c = [], WIDTH
    for s, n in enumerate(BLOCKS):
        planes = WIDTH << s
        for b in range(n):
            stride = 2 if s > 0 and b == 0 else 1
            out.append((c, planes, stride, stride != 1 or c != planes))
            c = planes
    return out, c


def onnx_model():
    nodes, inits, n = [], [], [0]

    def name(p):
        n[0] += 1
        return f"{p}{n[0]}"

    def conv(x, c_in, c_out, k, stride, pad, relu=True):
        w, b, y = name("w"), name("b"), name("c")
        fan = c_in * k ** 3
        inits.append(numpy_helper.from_array((rng.standard_normal((c_out, c_in, k, k, k)) * np.sqrt(2 / fan)).astype(np.float32), w))
        inits.append(numpy_helper.from_array(np.zeros(c_out, np.float32), b))
        nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k] * 3, strides=[stride] * 3, pads=[pad] * 6))
        if not relu:
            return y
        z = name("r")
        nodes.append(helper.make_node("Relu", [y], [z]))
        return z

    x = conv("input", 1, WIDTH, 3, 1, 1)
    blocks, c = layout()
    for c_in, c_out, stride, down in blocks:
        o = conv(x, c_in, c_out, 3, stride, 1)
        o = conv(o, c_out, c_out, 3, 1, 1, relu=False)
        sc = conv(x, c_in, c_out, 1, stride, 0, relu=False) if down else x
        s, r = name("s"), name("r")
        nodes += [helper.make_node("Add", [o, sc], [s]), helper.make_node("Relu", [s], [r])]
        x = r
    p, f, w, b = name("gap"), name("flat"), name("fcw"), name("fcb")
    nodes += [helper.make_node("GlobalAveragePool", [x], [p]), helper.make_node("Flatten", [p], [f])]
    inits.append(numpy_helper.from_array(rng.standard_normal((2, c)).astype(np.float32), w))
    inits.append(numpy_helper.from_array(np.zeros(2, np.float32), b))
    nodes.append(helper.make_node("Gemm", [f, w, b], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "resnet3d", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, SIDE, SIDE, SIDE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnx_latency():
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_model().SerializeToString(), so, providers=["CPUExecutionProvider"])
    x1 = np.ones((1, 1, SIDE, SIDE, SIDE), np.float32)
    for _ in range(3):
        sess.run(None, {"input": x1})
    t = []
    for _ in range(30):
        s = time.perf_counter()
        sess.run(None, {"input": x1})
        t.append((time.perf_counter() - s) * 1e3)
    t.sort()
    print(f"onnxruntime resnet3d18w16-1x28x28x28: batch-1 p50 {t[15]:.2f} ms p95 {t[28]:.2f} ms")


def jax_train_step():
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 100))

    def conv_w(c_out, c_in, k):
        return jax.random.normal(next(keys), (c_out, c_in, k, k, k)) * jnp.sqrt(2.0 / (c_in * k ** 3))

    def bn_p(c):
        return (jnp.ones(c), jnp.zeros(c))

    blocks, c = layout()
    params = {"conv1": conv_w(WIDTH, 1, 3), "bn1": bn_p(WIDTH), "blocks": []}
    for c_in, c_out, _, down in blocks:
        blk = {"conv1": conv_w(c_out, c_in, 3), "bn1": bn_p(c_out), "conv2": conv_w(c_out, c_out, 3), "bn2": bn_p(c_out)}
        if down:
            blk["down"], blk["down_bn"] = conv_w(c_out, c_in, 1), bn_p(c_out)
        params["blocks"].append(blk)
    params["fc"] = (jax.random.normal(next(keys), (2, c)) / jnp.sqrt(c), jnp.zeros(2))
    strides = [s for _, _, s, _ in blocks]

    def conv(x, w, stride, pad):
        return jax.lax.conv_general_dilated(x, w, (stride,) * 3, [(pad, pad)] * 3,
                                            dimension_numbers=("NCDHW", "OIDHW", "NCDHW"))

    def bn(x, gb):
        g, b = gb
        m = x.mean(axis=(0, 2, 3, 4), keepdims=True)
        v = ((x - m) ** 2).mean(axis=(0, 2, 3, 4), keepdims=True)
        return (x - m) / jnp.sqrt(v + 1e-5) * g[None, :, None, None, None] + b[None, :, None, None, None]

    def forward(p, x):
        y = jax.nn.relu(bn(conv(x, p["conv1"], 1, 1), p["bn1"]))
        for blk, s in zip(p["blocks"], strides):
            o = jax.nn.relu(bn(conv(y, blk["conv1"], s, 1), blk["bn1"]))
            o = bn(conv(o, blk["conv2"], 1, 1), blk["bn2"])
            sc = bn(conv(y, blk["down"], s, 0), blk["down_bn"]) if "down" in blk else y
            y = jax.nn.relu(o + sc)
        w, b = p["fc"]
        return y.mean(axis=(2, 3, 4)) @ w.T + b

    def loss_fn(p, x, labels):
        return -jnp.mean(jax.nn.log_softmax(forward(p, x))[jnp.arange(x.shape[0]), labels])

    @jax.jit
    def step(p, m, v, t, x, labels):
        loss, g = jax.value_and_grad(loss_fn)(p, x, labels)
        norm = jnp.sqrt(sum(jnp.sum(l ** 2) for l in jax.tree_util.tree_leaves(g)))
        g = jax.tree_util.tree_map(lambda a: a * jnp.minimum(1.0, 5.0 / (norm + 1e-6)), g)
        lr, b1, b2, eps, wd = 1e-3, 0.9, 0.999, 1e-8, 1e-4
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)

        def upd(w, m, v):
            decay = wd if w.ndim >= 2 else 0.0
            return w * (1 - lr * decay) - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps)
        return jax.tree_util.tree_map(upd, p, m, v), m, v, loss

    x = jax.random.normal(jax.random.PRNGKey(1), (32, 1, SIDE, SIDE, SIDE))
    labels = jnp.arange(32) % 2
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    p = params
    for t in range(1, 3):
        p, m, v, loss = step(p, m, v, float(t), x, labels)
    loss.block_until_ready()
    times = []
    for t in range(3, 9):
        s = time.perf_counter()
        p, m, v, loss = step(p, m, v, float(t), x, labels)
        loss.block_until_ready()
        times.append(time.perf_counter() - s)
    times.sort()
    print(f"jax resnet3d18w16 train step b32 1x28x28x28: median {np.median(times) * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms")


onnx_latency()
jax_train_step()
