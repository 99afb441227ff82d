"""The job database: the one source of truth about every job.
The job model and its allowed transitions, the tables and migrations, the store.
"""
