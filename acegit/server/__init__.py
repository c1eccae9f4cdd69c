"""`acegit serve`: a warm render server for a project (docs/server.md).

The server is a thin layer over the core: every call into it goes through `acegit/server/core.py`. The client
side (`client.py`, `info.py`, `wire.py`) needs neither FastAPI nor torch: `render --remote` and daemon use stay light.
"""
