"""The job database: the one source of truth about every job.
The job model and its allowed transitions, the tables, opening and migrating
the database, the store, the uploads a job owes, and worker identity.
"""
