"""Counting on the meta device: a config's profile (parameters, MACs, activations), its training
memory, the FLOP formulas and the one hook context manager, with their results as plain data.

Below ``runtime/`` (the memory guard estimates from these counts before anything is allocated) and
above the families (it builds their models on the ``meta`` device); ``profile_data`` and
``memory_data`` import no torch, so stored results are read without it.
"""
