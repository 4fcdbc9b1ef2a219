"""The rides file template (GLIMPSE_RIDES_SOURCE): checked at load time, without pandas."""


class RidesSourceError(ValueError):
    """The rides input cannot be used; the message names the file and the problem."""


def validate_template(template: str) -> str:
    if "{date}" not in template and "{month}" not in template:
        raise RidesSourceError(
            f"a rides file template needs {{date}} or {{month}} in it, got {template!r}"
        )
    if not template.endswith((".parquet", ".csv")):
        raise RidesSourceError(f"a rides file must end in .parquet or .csv, got {template!r}")
    return template
