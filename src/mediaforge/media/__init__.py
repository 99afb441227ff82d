"""Media: probe inputs, plan a job, build and run the ffmpeg command, verify outputs.
The only place that talks to ffmpeg and ffprobe.
"""
