"""mediaforge: self-hosted media transcoding through a persistent queue."""

__version__ = "0.1.0"
