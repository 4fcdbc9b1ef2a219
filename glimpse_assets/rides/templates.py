"""The rides and conditions file templates (GLIMPSE_RIDES_SOURCE, GLIMPSE_RIDES_CONDITIONS):
checked at load time, without pandas."""


class RidesSourceError(ValueError):
    """The rides input cannot be used; the message names the file and the problem."""


def validate_template(template: str) -> str:
    if "{date}" not in template and "{month}" not in template:
        raise RidesSourceError(
            f"a file template needs {{date}} or {{month}} in it, got {template!r}"
        )
    if not template.endswith((".parquet", ".csv")):
        raise RidesSourceError(f"a file template must end in .parquet or .csv, got {template!r}")
    return template


CONDITIONS_KINDS = ("invented", "none")


def validate_conditions(value: str) -> str:
    """`invented`, `none` or a conditions file template (GLIMPSE_RIDES_CONDITIONS)."""
    if value.strip().lower() in CONDITIONS_KINDS:
        return value.strip().lower()
    try:
        return validate_template(value)
    except ValueError as error:
        raise RidesSourceError(
            f"must be 'invented', 'none' or a conditions file path/URI template: {error}"
        ) from None
