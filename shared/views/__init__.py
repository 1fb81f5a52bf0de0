"""Views of the lessons generated from the real lesson files: what people read is what runs.

- twins: parse ``torch_impl/<lesson>.py`` and ``jax_impl/<lesson>.py`` with ``ast`` and pair their
  top-level functions and classes by name, in order, with the hazards each pair meets.
- show: ``lessons show LESSON``, the pairs in two terminal columns.
- site: ``lessons site``, a static offline site, one page per lesson.
- notebook: ``lessons notebook LESSON``, a Jupyter notebook per lesson (kernel: its cell magics).

Nothing here imports a framework; the notebooks import them when they run.
"""
