"""The Scaling lab's parts (``pages/scaling.py`` lays them out): its widget keys and URL sliders,
its cached analyses, the design's headline, one module per group of tabs, and the Search tab."""
