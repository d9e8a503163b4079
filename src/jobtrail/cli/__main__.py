"""`python -m jobtrail.cli` runs the same command as `jobtrail`."""

from jobtrail.cli.main import main

main()
