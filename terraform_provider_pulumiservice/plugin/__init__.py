"""The plugin layer: go-plugin handshake, mutual TLS, the gRPC server, process lifecycle and
hclog-style logging. ``main.main`` is the program; ``server.serve`` runs a given servicer.

Nothing is imported here: ``main`` must stay cheap to import.
"""
