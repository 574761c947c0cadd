"""The runtime: the association/ingestion worker, the scheduler, raw ingestion and user operations.

Export and erasure live here so that the API, both bots and the CLI share them. The runtime runs the graphs;
front-ends call it.
"""
