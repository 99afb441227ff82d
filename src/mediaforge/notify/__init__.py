"""Notifications: what is owed to whom, composed and sent through Apprise.
Targets, message templates, delivery with retries and digests.
"""
