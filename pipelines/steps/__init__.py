"""Step scripts of the training pipeline; each runs standalone inside a SageMaker container."""
