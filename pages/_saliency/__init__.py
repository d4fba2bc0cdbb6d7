"""The Saliency page's checkable parts (``pages/saliency.py`` lays them out): captum's methods side by side,
the sanity check's strip and the deletion/insertion curves."""
