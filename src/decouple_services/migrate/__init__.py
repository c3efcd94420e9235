"""Migration of chosen call sites to Kafka sends, with the consumers on the callee side."""
