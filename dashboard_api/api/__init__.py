"""HTTP controllers of dashboard_api: thin, they validate, call a service, shape the answer."""
