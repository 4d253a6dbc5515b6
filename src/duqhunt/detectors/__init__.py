"""Detectors: observations in, findings out."""
