"""acegit: music as source code — deterministic renders, latent snapshots and diffs in Git."""

__version__ = "0.1.0"
