#!/usr/bin/python3
"""PyTorch peer of examples/mnist: FGSM-RS on MNIST in Wong et al.'s setting
(10 epochs, eps 0.3, step 0.375, Adam, cyclic lr to 5e-3, batch 100, the
reference CNN), on the MNIST files embedded in robust/data/mnist. It writes
the state_dict as a safetensors file that nn.Import reads, so the model can be
evaluated with gorobust's attacks:

  /usr/bin/python3 scripts/torch-fgsmrs.py SEED out.safetensors
  go run ./examples/mnist -import out.safetensors -eval 0

Needs Debian's python3-torch (and libopenblas0-pthread for speed).
"""
import gzip, json, struct, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

seed = int(sys.argv[1]); out = sys.argv[2]
torch.manual_seed(seed); np.random.seed(seed)
torch.set_num_threads(1)

def idx(path):
    b = gzip.open(path).read()
    nd = b[3]
    dims = struct.unpack('>' + 'I' * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)

import os
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'robust', 'data', 'mnist') + '/'
X = torch.tensor(idx(d + 'train-images-idx3-ubyte.gz'), dtype=torch.float32).div(255).unsqueeze(1)
Y = torch.tensor(idx(d + 'train-labels-idx1-ubyte.gz'), dtype=torch.int64)
model = nn.Sequential(nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
                      nn.Flatten(), nn.Linear(1568, 100), nn.ReLU(), nn.Linear(100, 10))
epochs, eps, alpha, lr_max, bs = 10, 0.3, 0.375, 5e-3, 100
opt = torch.optim.Adam(model.parameters(), lr=lr_max)
sched = lambda t: np.interp([t], [0, epochs * 2 // 5, epochs], [0, lr_max, 0])[0]
nb = len(X) // bs
t0 = time.time()
for ep in range(epochs):
    perm = torch.randperm(len(X))
    tl = ta = 0
    for i in range(nb):
        j = perm[i * bs:(i + 1) * bs]
        x, y = X[j], Y[j]
        opt.param_groups[0]['lr'] = sched(ep + (i + 1) / nb)
        delta = torch.zeros_like(x).uniform_(-eps, eps)
        delta.requires_grad = True
        F.cross_entropy(model(x + delta), y).backward()
        g = delta.grad.detach()
        delta = torch.clamp(delta.detach() + alpha * torch.sign(g), -eps, eps)
        delta = torch.max(torch.min(1 - x, delta), -x)
        o = model(torch.clamp(x + delta, 0, 1))
        loss = F.cross_entropy(o, y)
        opt.zero_grad(); loss.backward(); opt.step()
        tl += loss.item(); ta += (o.argmax(1) == y).float().mean().item()
    print(f'epoch {ep+1} loss {tl/nb:.4f} acc {ta/nb:.4f} {time.time()-t0:.0f}s', flush=True)

sd = model.state_dict()
hdr, off, blobs = {}, 0, []
for k, v in sd.items():
    a = v.detach().numpy().astype('<f4').tobytes()
    hdr[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [off, off + len(a)]}
    off += len(a); blobs.append(a)
h = json.dumps(hdr).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(h))); f.write(h); f.write(b''.join(blobs))
