"""The runner: executes a job's DAG of commands and reports every state change live."""
