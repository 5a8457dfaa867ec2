"""JAX anchor: one ResNet-18 training step (forward in training mode with batch statistics,
softmax cross-entropy, backward, AdamW with decoupled weight decay on rank>=2 weights, global
norm clipping 5.0) on a batch of 32 at 1x64x64, jit-compiled, CPU, 2 threads. Mirrors
radbench's `cnn-train-step` bench. Argument: base width (16 or 64).

    /tmp/venv-cnn/bin/pip install jax
    /tmp/venv-cnn/bin/python benches/inference_anchors/jax_train_step.py 16
"""
import sys
import time

# The reference machine has 2 cores, so XLA's CPU thread pool has 2 threads; pin with
# `taskset -c 0,1` on larger machines.
import jax
import jax.numpy as jnp

WIDTH = int(sys.argv[1]) if len(sys.argv) > 1 else 16
key = jax.random.PRNGKey(0)


def conv_w(key, c_out, c_in, k):
    return jax.random.normal(key, (c_out, c_in, k, k)) * jnp.sqrt(2.0 / (c_in * k * k))


def init(key):
    keys = iter(jax.random.split(key, 100))
    p = {"conv1": conv_w(next(keys), WIDTH, 1, 7), "bn1": (jnp.ones(WIDTH), jnp.zeros(WIDTH))}
    c = WIDTH
    blocks = []
    for s, n in enumerate([2, 2, 2, 2]):
        planes = WIDTH << s
        for b in range(n):
            stride = 2 if s > 0 and b == 0 else 1
            blk = {
                "conv1": conv_w(next(keys), planes, c, 3), "bn1": (jnp.ones(planes), jnp.zeros(planes)),
                "conv2": conv_w(next(keys), planes, planes, 3), "bn2": (jnp.ones(planes), jnp.zeros(planes)),
            }
            if stride != 1 or c != planes:
                blk["down"] = conv_w(next(keys), planes, c, 1)
                blk["down_bn"] = (jnp.ones(planes), jnp.zeros(planes))
            blocks.append((blk, stride))
            c = planes
    p["blocks"] = [b for b, _ in blocks]
    p["fc"] = (jax.random.normal(next(keys), (2, c)) / jnp.sqrt(c), jnp.zeros(2))
    strides = [s for _, s in blocks]
    return p, strides


params, STRIDES = init(key)


def conv(x, w, stride, pad):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                        dimension_numbers=("NCHW", "OIHW", "NCHW"))


def bn(x, gb):
    g, b = gb
    m = x.mean(axis=(0, 2, 3), keepdims=True)
    v = ((x - m) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    return (x - m) / jnp.sqrt(v + 1e-5) * g[None, :, None, None] + b[None, :, None, None]


def forward(p, x):
    y = jax.nn.relu(bn(conv(x, p["conv1"], 2, 3), p["bn1"]))
    y = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 1, 3, 3), (1, 1, 2, 2), [(0, 0), (0, 0), (1, 1), (1, 1)])
    for blk, s in zip(p["blocks"], STRIDES):
        o = jax.nn.relu(bn(conv(y, blk["conv1"], s, 1), blk["bn1"]))
        o = bn(conv(o, blk["conv2"], 1, 1), blk["bn2"])
        sc = bn(conv(y, blk["down"], s, 0), blk["down_bn"]) if "down" in blk else y
        y = jax.nn.relu(o + sc)
    y = y.mean(axis=(2, 3))
    w, b = p["fc"]
    return y @ w.T + b


def loss_fn(p, x, labels):
    logits = forward(p, x)
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(x.shape[0]), labels])


@jax.jit
def step(p, m, v, t, x, labels):
    loss, g = jax.value_and_grad(loss_fn)(p, x, labels)
    norm = jnp.sqrt(sum(jnp.sum(l ** 2) for l in jax.tree_util.tree_leaves(g)))
    scale = jnp.minimum(1.0, 5.0 / (norm + 1e-6))
    g = jax.tree_util.tree_map(lambda a: a * scale, g)
    lr, b1, b2, eps, wd = 1e-3, 0.9, 0.999, 1e-8, 1e-4
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
    def upd(w, m, v):
        decay = wd if w.ndim >= 2 else 0.0
        return w * (1 - lr * decay) - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + eps)
    p = jax.tree_util.tree_map(upd, p, m, v)
    return p, m, v, loss


x = jax.random.normal(key, (32, 1, 64, 64))
labels = jnp.arange(32) % 2
m = jax.tree_util.tree_map(jnp.zeros_like, params)
v = jax.tree_util.tree_map(jnp.zeros_like, params)
p = params
for t in range(1, 3):
    p, m, v, loss = step(p, m, v, float(t), x, labels)
loss.block_until_ready()
times = []
for t in range(3, 13):
    s = time.perf_counter()
    p, m, v, loss = step(p, m, v, float(t), x, labels)
    loss.block_until_ready()
    times.append(time.perf_counter() - s)
times.sort()
print(f"jax resnet18 width {WIDTH} train step b32 1x64x64: median {times[5] * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms")
