"""Network detectors: portable SQL files (sql/) with small Python wrappers."""
