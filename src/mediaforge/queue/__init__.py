"""The queue stage: submitting jobs, the Huey queue that carries their ids,
the worker that consumes it and the pipeline that runs one attempt of a job.
"""
