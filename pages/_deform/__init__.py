"""The Deformable page's parts (``pages/deform.py`` lays them out): its widget keys, the weights
(before and after), the location, and the result tabs."""
