"""The demo: sample data that looks like real warehouse jobs."""
