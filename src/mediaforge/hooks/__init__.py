"""Hooks: actions run after a job ends (an HTTP call, a media server's library
refresh, a local command), recorded and retried like notifications."""
