"""Configuration: one validated, typed object.
The schema, the YAML reader that reports every bad field, and where the file is found.
"""
