"""raystra's Dask integration (work in progress in this session)."""
