"""What a step name may be. Apart from the event schema so that a runner validating a job spec
need not build the whole event schema."""


def check_step_name(name: str) -> str:
    """Step names go into URL paths: any printable character except `/`, and not `.`/`..`."""
    if "/" in name or not name.isprintable() or name in {".", ".."} or name != name.strip():
        raise ValueError(
            "a step name must be printable, without '/', without leading or trailing spaces, "
            "and not '.' or '..'"
        )
    return name
