"""Operations: checks of this machine (doctor), systemd units and logging.
"""
