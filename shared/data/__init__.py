"""Data for every lesson, as numpy arrays. No framework imports (jax's examples/datasets.py style)."""
from shared.data.images import ImageSplit, load_images
from shared.data.pngfolder import export_png_folder, read_annotations
from shared.data.source import DataSource
from shared.data.synthetic import gate_table, linear_data, sin_data, toy_data, xor_data

__all__ = ["DataSource", "ImageSplit", "export_png_folder", "gate_table", "linear_data", "load_images",
           "read_annotations", "sin_data", "toy_data", "xor_data"]
