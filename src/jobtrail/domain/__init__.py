"""Pure domain logic: events, states, the materialisation rule, time windows. No I/O here."""
