"""Ray Serve: the calibrated relevance classifier as an HTTP service."""
