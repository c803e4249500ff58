"""Training pipeline of dyce's Fashion-MNIST models (see docs/MODELS.md).

The single entry point is models/train_fmnist.py; the modules here are its
steps: data (splits, normalisation, augmentation), nets (architectures, MACs),
fit (the shared SGD training loop), exits (decoupled DyCE exit training),
records (the records file), package (ONNX export and conversion).
"""
