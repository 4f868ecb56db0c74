"""`make demo`: the main job end to end on the embedded default (see :mod:`headwater.demo.run`)."""
