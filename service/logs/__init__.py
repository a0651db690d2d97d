"""Logs: the service's own set-up, the database sink, and the stored records' writes and reads."""
