"""One lesson's framework-neutral helpers (numpy only), shared by its twins, its spec and its tests."""
