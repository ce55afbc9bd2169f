"""Speech providers: one Protocol per capability (base.py), one module per vendor."""
