"""The Signal flow page's parts (``pages/signal.py`` lays them out): its widget keys, the probe and its
curves, and "Train and watch"."""
