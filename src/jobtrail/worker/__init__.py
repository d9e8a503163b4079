"""Background work (SPEC §2): one home for what runs beside the API — retention today, alert
evaluation and delivery next. Runs inside `jobtrail serve` by default or as `jobtrail worker`."""
