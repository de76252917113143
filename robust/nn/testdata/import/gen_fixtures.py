#!/usr/bin/python3
"""Writes the import fixtures of robust/nn (import_test.go).

Run from this directory with Debian's python3-numpy (and python3-torch for
torch_cnn.safetensors; without torch that fixture is left as it is):

    /usr/bin/python3 gen_fixtures.py

It writes safetensors files by hand, in the layout the safetensors package
gives them (safetensors.torch.save_file(model.state_dict(), path)): an
8-byte little-endian header length, a compact JSON header that starts with
{"__metadata__":{"format":"pt"}} and lists the tensors in data order,
padded with spaces to a multiple of 8, then the tensors sorted by dtype
size (largest first) and name. fixtures.json holds, for each file, the
inputs and the logits its writer computed.
"""

import json
import struct

import numpy as np

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def to_bf16(a):
    """float32 -> bfloat16 bits (uint16), rounding to nearest even, as torch does."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def from_bf16(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def encode(a, dtype):
    """Returns (little-endian bytes, the float64 values a reader gets back)."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes(), a.astype(np.float64)
    if dtype == "F64":
        return a.astype("<f8").tobytes(), a.astype(np.float64)
    if dtype == "F16":
        h = a.astype(np.float16)
        return h.astype("<f2").tobytes(), h.astype(np.float64)
    if dtype == "BF16":
        b = to_bf16(a)
        return b.astype("<u2").tobytes(), from_bf16(b).astype(np.float64)
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtypes=None):
    """tensors: name -> float32 array; dtypes: name -> dtype (default F32).
    Returns name -> float64 values as stored."""
    dtypes = dtypes or {}
    order = sorted(tensors, key=lambda n: (-DTYPE_SIZE[dtypes.get(n, "F32")], n))
    header = {"__metadata__": {"format": "pt"}}
    blobs, stored, off = [], {}, 0
    for name in order:
        dt = dtypes.get(name, "F32")
        b, v = encode(tensors[name], dt)
        header[name] = {"dtype": dt, "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
        stored[name] = v
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return stored


# A numpy forward pass in float64, NCHW, PyTorch semantics.

def conv2d(x, w, b, stride, pad):
    n, c, hh, ww = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (hh + 2 * pad - k) // stride + 1, (ww + 2 * pad - k) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def pool(x, k, stride, reduce):
    n, c, hh, ww = x.shape
    ho, wo = (hh - k) // stride + 1, (ww - k) // stride + 1
    wins = [x[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] for i in range(k) for j in range(k)]
    return reduce(np.stack(wins), axis=0)


def forward(layers, p, x):
    """layers: list of (kind, args) mirroring an nn.Sequential; p: name -> array."""
    x = x.astype(np.float64)
    for i, (kind, args) in enumerate(layers):
        if kind == "conv":
            x = conv2d(x, p[f"{i}.weight"], p[f"{i}.bias"], *args)
        elif kind == "linear":
            x = x @ p[f"{i}.weight"].T + p[f"{i}.bias"]
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif kind == "maxpool":
            x = pool(x, *args, np.max)
        elif kind == "avgpool":
            x = pool(x, *args, np.mean)
        elif kind == "dropout":
            pass
    return x


def floats(a):
    return [float(v) for v in np.asarray(a).ravel()]


# Fixture 1: the reference CNN of Wong et al. scaled down to 1 x 12 x 12
# inputs, written by numpy. Weights as PyTorch initialises them:
# uniform in +-1/sqrt(fan_in).
CNN = [("conv", (2, 1)), ("relu", ()), ("conv", (2, 1)), ("relu", ()),
       ("flatten", ()), ("linear", ()), ("relu", ()), ("linear", ())]
CNN_SHAPES = {"0.weight": (4, 1, 4, 4), "0.bias": (4,), "2.weight": (8, 4, 4, 4), "2.bias": (8,),
              "5.weight": (16, 72), "5.bias": (16,), "7.weight": (10, 16), "7.bias": (10,)}

rng = np.random.default_rng(20240611)
weights = {}
for name, shape in CNN_SHAPES.items():
    fan_in = int(np.prod(CNN_SHAPES[name.split(".")[0] + ".weight"][1:]))
    bound = 1 / np.sqrt(fan_in)
    weights[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
x_cnn = rng.uniform(0, 1, size=(4, 1, 12, 12)).astype(np.float32)

stored = write_safetensors("numpy_cnn.safetensors", weights)
fixtures = {"numpy_cnn": {"input_shape": list(x_cnn.shape), "input": floats(x_cnn),
                          "logits": floats(forward(CNN, stored, x_cnn))}}

# Fixture 2: the same weights in every dtype Import reads; the logits use
# the values as stored (rounded to F16 or BF16).
mixed = {"0.weight": "F16", "0.bias": "BF16", "2.weight": "BF16", "2.bias": "F64", "5.weight": "F64", "7.weight": "F16"}
stored = write_safetensors("numpy_cnn_mixed.safetensors", weights, mixed)
fixtures["numpy_cnn_mixed"] = {"input_shape": list(x_cnn.shape), "input": floats(x_cnn),
                               "logits": floats(forward(CNN, stored, x_cnn))}

# Fixture 3: a PyTorch model with pooling and dropout on normalised CIFAR-
# sized inputs; the normalisation happens before the nn.Sequential, so the
# Go Spec starts with a Normalize layer and every index shifts by one.
try:
    import torch
    import torch.nn as nn
except ImportError:
    torch = None

if torch is not None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AvgPool2d(2, 1),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(72, 12), nn.ReLU(), nn.Linear(12, 5)).eval()
    mean, std = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        xn = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
        logits = model(xn)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    write_safetensors("torch_cnn.safetensors", sd)
    fixtures["torch_cnn"] = {"torch": torch.__version__, "mean": mean, "std": std,
                             "input_shape": list(x.shape), "input": floats(x.numpy()),
                             "logits": floats(logits.numpy())}

    # Cross-check the numpy forward pass against PyTorch on fixture 1.
    ref = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 4, 2, 1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(72, 16), nn.ReLU(), nn.Linear(16, 10))
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    with torch.no_grad():
        want = ref(torch.from_numpy(x_cnn)).numpy()
    got = np.array(fixtures["numpy_cnn"]["logits"]).reshape(want.shape)
    assert np.allclose(got, want, atol=1e-5), np.abs(got - want).max()
    print("numpy forward matches torch within", np.abs(got - want).max())
else:
    with open("fixtures.json") as f:
        old = json.load(f)
    if "torch_cnn" in old:
        fixtures["torch_cnn"] = old["torch_cnn"]

with open("fixtures.json", "w") as f:
    json.dump(fixtures, f, indent=1)
    f.write("\n")
