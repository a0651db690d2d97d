"""The API contract shared by the service and the executors."""
