"""Generated protobuf/gRPC stubs (written by `python3 build.py protos`; not edited by hand)."""
