"""The optional S3 module: the client (the only boto3 import), s3:// inputs,
and uploads of finished jobs' files with their own table, retries and links.
"""
