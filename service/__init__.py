"""The SoraWM fleet service: task table, file store, leases and the HTTP API."""
