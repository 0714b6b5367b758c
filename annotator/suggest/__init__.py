"""Suggestions: cold-start signals (signals.py, structure.py) and the learned model (model.py,
training.py). Nothing here imports scikit-learn at import time."""
