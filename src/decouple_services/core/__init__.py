"""The bottom layer: the model every stage speaks, errors, and configuration."""
