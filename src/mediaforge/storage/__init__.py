"""Storage: where inputs are found and outputs are published.
Fingerprints of inputs, temporary names and atomic publishing on local disk, and S3.
"""
