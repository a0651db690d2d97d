"""What the service runs on: settings, the database and its migrations, wake-ups, metrics."""
