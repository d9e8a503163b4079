"""The `jobtrail` command line."""
