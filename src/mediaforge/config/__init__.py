"""Configuration: one validated, typed object.
The schema, the YAML reader that reports every bad field, where the file is
found, and how the configuration is shown.
"""
