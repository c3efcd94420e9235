"""The application layer: runs the stages in order (scan → graph → migrate) for the face.

Stages (``discover``, ``detect``, ``resolve``, ``render``, ``graph``, ``migrate``) take values
in and give values out; only this layer strings them together, reads the cache and decides
exit statuses.
"""
