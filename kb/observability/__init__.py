"""Operations: request ids that follow work from web to worker, JSON logs, Prometheus metrics,
readiness checks."""
