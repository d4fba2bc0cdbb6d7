"""The Inside page's parts (``pages/inside.py`` lays them out): its widget keys, the weights, the
feature maps and the effective receptive field (also shown on the Deformable page)."""
