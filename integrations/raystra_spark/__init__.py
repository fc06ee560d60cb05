"""raystra's Spark integration (work in progress in this session)."""
