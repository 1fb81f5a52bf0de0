"""The lessons in PyTorch. Each module mirrors jax_impl/ module for module, name for name."""
