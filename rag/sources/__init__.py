"""Where documents come from besides uploads: web pages and Google Drive folders."""
