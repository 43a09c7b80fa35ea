"""Datasets and manifests feeding the trainers."""
