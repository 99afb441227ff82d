"""Presets: what a job makes, in YAML.
The preset model, loading and checking preset files, and the built-in presets.
"""
