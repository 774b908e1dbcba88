"""The core library imports and trains with NumPy alone: the book's extras are blocked."""

import subprocess
import sys

SCRIPT = """
import sys

class Block:
    BLOCKED = ("matplotlib", "ipywidgets", "IPython", "sklearn", "scipy", "threadpoolctl", "torch",
               "tqdm")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"blocked for this test: {name}")
        return None

sys.meta_path.insert(0, Block())

import numpy as np
import cnnlib
from cnnlib import data, functional, models, tools, train

rng = np.random.default_rng(0)
d = data.tl_letters()
model = models.tl_cnn(4, rng=rng)
x, y = d["x_train"], d["y_train"]
loss_fn, opt = cnnlib.MSELoss(), cnnlib.SGD(model, 0.1)
first = None
for _ in range(300):
    loss, _ = train.train_step(model, loss_fn, opt, x, y[:, None].astype(float))
    first = loss if first is None else first
cnnlib.summary(model, (1, 8, 8), print_table=False)
assert loss < first / 2, (first, loss)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in Block.BLOCKED)
assert not leaked, leaked
try:
    import cnnlib.book.viz
except ImportError as e:
    print("book helpers need the extra:", e)
print("trained", round(first, 3), "->", round(loss, 3))
"""


def test_core_needs_numpy_only():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "trained" in out.stdout
    assert "book helpers need the extra: blocked for this test: matplotlib" in out.stdout
