"""et_sorawm: claims tasks from the service, runs the engine on them, reports and uploads."""
