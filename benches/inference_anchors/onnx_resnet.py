"""onnxruntime anchor for radbench's CNN inference benches.

Builds torchvision's ResNet-18/50 graphs, radbench's Inception-style net (`Inception`, width 64)
and its U-Net (base width 32, 4 levels), batch norm folded into conv bias as onnxruntime's own
optimiser would do, with the onnx helper API and random weights, and times them on the CPU with
2 intra-op threads: batch-1 latency (p50/p95) and batch-32 (or 8) throughput. Same rows as
`cnn-inference/*` in benches/inference.rs.

    python -m venv /tmp/venv-cnn && /tmp/venv-cnn/bin/pip install numpy onnx onnxruntime
    /tmp/venv-cnn/bin/python benches/inference_anchors/onnx_resnet.py [ROW-SUBSTRING ...]
"""
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort

rng = np.random.default_rng(0)


class G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, p):
        self.n += 1
        return f"{p}{self.n}"

    def conv(self, x, c_in, c_out, k, stride, pad, relu=True):
        w = self.name("w")
        b = self.name("b")
        self.inits.append(numpy_helper.from_array((rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2 / (c_in * k * k))).astype(np.float32), w))
        self.inits.append(numpy_helper.from_array(np.zeros(c_out, np.float32), b))
        y = self.name("c")
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4))
        if relu:
            z = self.name("r")
            self.nodes.append(helper.make_node("Relu", [y], [z]))
            return z
        return y

    def node(self, op, inputs, prefix, **attrs):
        y = self.name(prefix)
        self.nodes.append(helper.make_node(op, inputs, [y], **attrs))
        return y

    def conv_transpose_2x2(self, x, c_in, c_out):
        w, b = self.name("w"), self.name("b")
        self.inits.append(numpy_helper.from_array((rng.standard_normal((c_in, c_out, 2, 2)) * np.sqrt(1 / c_in)).astype(np.float32), w))
        self.inits.append(numpy_helper.from_array(np.zeros(c_out, np.float32), b))
        return self.node("ConvTranspose", [x, w, b], "u", kernel_shape=[2, 2], strides=[2, 2])

    def add_relu(self, a, b):
        s, r = self.name("s"), self.name("r")
        self.nodes.append(helper.make_node("Add", [a, b], [s]))
        self.nodes.append(helper.make_node("Relu", [s], [r]))
        return r


def resnet(depth, c_in, width=64, classes=2):
    g = G()
    blocks = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
    exp = 1 if depth < 50 else 4
    x = g.conv("input", c_in, width, 7, 2, 3)
    y = g.name("p")
    g.nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, c = y, width
    for s, n in enumerate(blocks):
        planes = width << s
        for b in range(n):
            stride = 2 if s > 0 and b == 0 else 1
            if exp == 1:
                o = g.conv(x, c, planes, 3, stride, 1)
                o = g.conv(o, planes, planes, 3, 1, 1, relu=False)
            else:
                o = g.conv(x, c, planes, 1, 1, 0)
                o = g.conv(o, planes, planes, 3, stride, 1)
                o = g.conv(o, planes, planes * 4, 1, 1, 0, relu=False)
            sc = x if (stride == 1 and c == planes * exp) else g.conv(x, c, planes * exp, 1, stride, 0, relu=False)
            x = g.add_relu(o, sc)
            c = planes * exp
    return finish(g, x, c, c_in, classes)


def finish(g, x, c, c_in, classes, spatial=False):
    if not spatial:
        p, f = g.name("gap"), g.name("flat")
        g.nodes.append(helper.make_node("GlobalAveragePool", [x], [p]))
        g.nodes.append(helper.make_node("Flatten", [p], [f]))
        w, b = g.name("fcw"), g.name("fcb")
        g.inits.append(numpy_helper.from_array(rng.standard_normal((classes, c)).astype(np.float32), w))
        g.inits.append(numpy_helper.from_array(np.zeros(classes, np.float32), b))
        g.nodes.append(helper.make_node("Gemm", [f, w, b], ["logits"], transB=1))
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])
    else:
        g.nodes.append(helper.make_node("Identity", [x], ["logits"]))
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes, "H", "W"])
    graph = helper.make_graph(
        g.nodes, "net", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", c_in, "H", "W"])],
        [out], g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inception(c_in, width=64, stem_stride=2, classes=2):
    """radbench's `Inception` (src/models/cnn/inception.rs): stem, Mixed_5b, Mixed_5c, Mixed_6a."""
    g = G()
    half, w48, w96, w384 = width // 2, width * 3 // 4, width * 3 // 2, width * 6
    x = g.conv("input", c_in, half, 3, stem_stride, 1)
    x = g.conv(x, half, half, 3, 1, 1)
    x = g.conv(x, half, width, 3, 1, 1)
    x = g.node("MaxPool", [x], "p", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    c = width
    for pool_features in [half, width]:
        b1 = g.conv(x, c, width, 1, 1, 0)
        b5 = g.conv(g.conv(x, c, w48, 1, 1, 0), w48, width, 5, 1, 2)
        b3 = g.conv(g.conv(g.conv(x, c, width, 1, 1, 0), width, w96, 3, 1, 1), w96, w96, 3, 1, 1)
        pooled = g.node("AveragePool", [x], "a", kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4, count_include_pad=1)
        bp = g.conv(pooled, c, pool_features, 1, 1, 0)
        x = g.node("Concat", [b1, b5, b3, bp], "cat", axis=1)
        c = width + width + w96 + pool_features
    b3 = g.conv(x, c, w384, 3, 2, 1)
    bd = g.conv(g.conv(g.conv(x, c, width, 1, 1, 0), width, w96, 3, 1, 1), w96, w96, 3, 2, 1)
    pool = g.node("MaxPool", [x], "p", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
    x = g.node("Concat", [b3, bd, pool], "cat", axis=1)
    return finish(g, x, w384 + w96 + c, c_in, classes)


def unet(c_in, base=32, levels=4, classes=1):
    """radbench's `UNet` (src/models/cnn/unet.rs): double 3×3 convs, 2×2 max pool, 2×2 stride-2
    transposed convs, skip concatenation, 1×1 head."""
    g = G()
    x, c, skips = "input", c_in, []
    for level in range(levels):
        w = base << level
        x = g.conv(g.conv(x, c, w, 3, 1, 1), w, w, 3, 1, 1)
        skips.append(x)
        x = g.node("MaxPool", [x], "p", kernel_shape=[2, 2], strides=[2, 2])
        c = w
    w = base << levels
    x = g.conv(g.conv(x, c, w, 3, 1, 1), w, w, 3, 1, 1)
    for level in reversed(range(levels)):
        w = base << level
        up = g.conv_transpose_2x2(x, w * 2, w)
        x = g.node("Concat", [skips[level], up], "cat", axis=1)
        x = g.conv(g.conv(x, 2 * w, w, 3, 1, 1), w, w, 3, 1, 1)
    x = g.conv(x, base, classes, 1, 1, 0, relu=False)
    return finish(g, x, classes, c_in, classes, spatial=True)


def bench(name, model, c, hw, big):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x1 = np.ones((1, c, hw, hw), np.float32)
    for _ in range(3):
        sess.run(None, {"input": x1})
    t = []
    for _ in range(30):
        s = time.perf_counter()
        sess.run(None, {"input": x1})
        t.append((time.perf_counter() - s) * 1e3)
    t.sort()
    xb = np.ones((big, c, hw, hw), np.float32)
    sess.run(None, {"input": xb})
    reps = 3
    s = time.perf_counter()
    for _ in range(reps):
        sess.run(None, {"input": xb})
    per = (time.perf_counter() - s) / reps
    print(f"{name}: batch-1 p50 {t[15]:.2f} ms p95 {t[28]:.2f} ms ({1e3 / t[15]:.1f} img/s); batch-{big} {big / per:.1f} img/s")


ROWS = [
    ("resnet18w16-1x64x64", lambda: resnet(18, 1, width=16), 1, 64, 32),
    ("resnet18-1x64x64", lambda: resnet(18, 1), 1, 64, 32),
    ("resnet18-3x224x224", lambda: resnet(18, 3), 3, 224, 32),
    ("resnet50-3x224x224", lambda: resnet(50, 3), 3, 224, 8),
    ("inception64-1x64x64", lambda: inception(1), 1, 64, 32),
    ("unet32-1x64x64", lambda: unet(1), 1, 64, 32),
]

# Optional arguments: substrings of the row names to run (default: all rows).
for name, build, c, hw, big in ROWS:
    if len(sys.argv) == 1 or any(part in name for part in sys.argv[1:]):
        bench(name, build(), c, hw, big)
