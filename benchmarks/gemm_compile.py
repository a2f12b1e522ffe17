"""PyTensor's Numba backend compiles a tiny matrix product far slower than the same sum written out.

Each form of the (30, 2) by (2, 2) product is compiled cold (a fresh process, an empty PyTensor
compile dir) and run once; prints the CPU seconds of each and checks they give identical values.
Usage: .venv/bin/python benchmarks/gemm_compile.py
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

FORMS = {"z @ chol.T": "z @ chol.T", "elementwise": "(z[:, None, :] * chol[None, :, :]).sum(-1)"}

if len(sys.argv) == 3:  # child: compile one form in this fresh process, save its value
    import pytensor
    import pytensor.tensor as pt

    z, chol = pt.matrix("z"), pt.matrix("chol")
    rng = np.random.default_rng(0)
    start = time.process_time()
    product = pytensor.function([z, chol], eval(FORMS[sys.argv[1]]), mode="NUMBA")
    np.save(sys.argv[2], product(rng.normal(size=(30, 2)), rng.normal(size=(2, 2))))
    print(time.process_time() - start)
else:
    values = {}
    for form in FORMS:
        with tempfile.TemporaryDirectory() as scratch:
            env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={scratch}", "NUMBA_CACHE_DIR": scratch}
            child = subprocess.run([sys.executable, __file__, form, f"{scratch}/value.npy"], env=env,
                                   check=True, capture_output=True, text=True)
            values[form] = np.load(f"{scratch}/value.npy")
        print(f"{form:>12}: {float(child.stdout.split()[-1]):5.1f} s CPU, cold compile and first call")
    assert np.array_equal(*values.values()), "the two forms disagree"
    print("identical values")
