"""The precision policy, stated once.

- Parity runs and tests: float32 with TF32 **off** on both sides, so a GPU matmul is a true
  float32 matmul. torch: ``torch.backends.cuda.matmul.allow_tf32 = False`` and
  ``torch.backends.cudnn.allow_tf32 = False``; JAX: ``jax_default_matmul_precision = "float32"``.
  ``--dtype float64`` runs both in float64 (x64 enabled in JAX, ``.double()`` in torch).
- Benchmarks: each framework's default. On a GPU that means TF32 matmuls and convolutions in JAX
  (its default); in torch full float32 matmuls (its default since 1.12) but TF32 cuDNN
  convolutions (``torch.backends.cudnn.allow_tf32`` defaults to True). The benchmark output says
  which ran.

Every result record stores the policy it ran under (``Record.precision``).
"""

STRICT = "strict"    # TF32 off: tests, parity, compare
DEFAULT = "default"  # the framework's own default: bench

POLICIES = (STRICT, DEFAULT)
DTYPES = ("float32", "float64")
