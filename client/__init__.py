"""`sorawm`: the user's command line client of a SoraWM fleet service."""
