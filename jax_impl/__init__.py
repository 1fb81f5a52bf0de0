"""The lessons in JAX with Flax NNX and optax. Each module mirrors torch_impl/ name for name."""
