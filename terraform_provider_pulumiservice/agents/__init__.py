"""The agent-task domain: the task's fields and their API mapping, shared by the resource and
the data sources, and the logic of an agent run. Knows nothing of protobuf or gRPC."""
