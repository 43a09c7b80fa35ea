"""Metrics, evaluation harnesses and speed benchmarks."""
