"""Watch folders: a door that turns settled files into jobs.
Mount detection, file stability, folder rules, what happens to originals.
"""
