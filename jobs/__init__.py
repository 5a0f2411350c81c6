"""RQ: the typed contract, job functions, the model-preloading worker, queueing with backpressure."""
