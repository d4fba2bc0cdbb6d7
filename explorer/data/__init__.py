"""Data sets that ship with the project (generated on the fly, nothing downloaded)."""
