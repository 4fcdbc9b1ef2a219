"""The configuration reference and the code agree: docs/configuration.md is what the settings
classes write now, every variable the package reads is declared (once, with a description) and
so listed, secrets are listed as never logged and reach resources only through `dg.EnvVar`, and
a resource field that a setting feeds takes that setting's default and words."""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets import config_reference
from glimpse_assets.config_reference import (
    REFERENCE,
    declared_variables,
    parse_python,
    render,
    settings_classes,
    settings_modules,
)
from glimpse_assets.settings import ProviderSettings, Settings
from glimpse_assets.sms.resources import SmsSenderResource
from glimpse_assets.sms.settings import SmsSettings
from glimpse_assets.stories.resources import strava_source
from glimpse_assets.stories.settings import StoriesSettings

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "glimpse_assets"
ENV_NAMES = {"env", "environ"}  # a mapping of the environment, as the package names it


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "string"` constants (a variable's name is often kept in one)."""
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def env_reads(source: str) -> set[str]:
    """The environment variables `source` reads by name: `os.environ[...]`, `env[...]`,
    `os.environ.get(...)`, `env.get(...)`, `os.getenv(...)`, `dg.EnvVar(...)` and Dagster's
    `{"env": ...}` config, by a string or a module constant holding one."""
    tree = parse_python(source)
    strings = _module_strings(tree)

    def name(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return strings.get(node.id) if isinstance(node, ast.Name) else None

    def is_env(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id in ENV_NAMES
        )

    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_env(node.value):
            found.add(name(node.slice))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            reads_env = isinstance(func, ast.Attribute) and is_env(func.value)
            if callee in {"EnvVar", "getenv"} or (callee in {"get", "pop"} and reads_env):
                found.add(name(node.args[0]))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "env":
                    found.add(name(value))
    return {variable for variable in found if variable}


def package_env_reads() -> dict[str, set[str]]:
    reads: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for variable in env_reads(path.read_text("utf-8")):
            reads.setdefault(variable, set()).add(str(path.relative_to(REPO)))
    return reads


# Resources whose fields still restate a setting instead of taking `setting(...)` from the
# settings classes: none; a module that restates one fails the test below.
RESTATING_STILL: set[str] = set()


def restated_settings(source: str, declared: set[str]) -> set[str]:
    """The variables that `Field(description="<VARIABLE>...")` calls in `source` restate: a
    resource field declaring a setting's variable a second time, instead of `setting(...)`."""
    restated = set()
    for node in ast.walk(parse_python(source)):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else node.func
        if getattr(callee, "id", callee) != "Field":
            continue
        words = {kw.arg: kw.value for kw in node.keywords}
        description = words.get("description")
        if isinstance(description, ast.JoinedStr):  # an f-string: its opening words
            description = description.values[0]
        if "alias" in words or not isinstance(description, ast.Constant):
            continue
        first = re.split(r"[\s:,]", str(description.value), maxsplit=1)[0]
        if first in declared:
            restated.add(first)
    return restated


def test_the_reference_is_what_the_settings_classes_write_now():
    assert REFERENCE == REPO / "docs" / "configuration.md"
    written = REFERENCE.read_text("utf-8")
    assert written == render(), "docs/configuration.md is out of date: run `make config-reference`"
    assert config_reference.main(["--check"]) == 0


def test_check_says_when_the_reference_is_out_of_date(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text(render().replace("`GLIMPSE_START_DATE`", "`GLIMPSE_FIRST_DAY`"))
    monkeypatch.setattr(config_reference, "REFERENCE", stale)

    assert config_reference.main(["--check"]) == 1
    assert "make config-reference" in capsys.readouterr().err
    assert config_reference.main([]) == 0
    assert stale.read_text() == render()


def test_the_scanner_finds_every_way_the_package_reads_a_variable():
    source = textwrap.dedent(
        """
        import os
        import dagster as dg
        BROKER = "A_BROKER_URL"
        os.environ["A_SUBSCRIPT"]
        env["A_MAPPING"]
        os.environ.get("A_GET")
        env.get("A_MAPPING_GET", "")
        os.getenv("A_GETENV")
        dg.EnvVar("A_SECRET")
        config = {"broker": {"env": BROKER}}
        other.get("NOT_THE_ENVIRONMENT")
        """
    )
    assert env_reads(source) == {
        "A_BROKER_URL",
        "A_SUBSCRIPT",
        "A_MAPPING",
        "A_GET",
        "A_MAPPING_GET",
        "A_GETENV",
        "A_SECRET",
    }


def test_every_variable_the_package_reads_is_declared_and_in_the_reference():
    reads = package_env_reads()
    # The scanner sees the package's reads (an empty scan would make this test pass vacuously).
    assert {"OPENAI_API_KEY", "DAGSTER_HOME", "AWS_REGION", "TWILIO_AUTH_TOKEN"} <= set(reads)
    declared = declared_variables()
    reference = REFERENCE.read_text("utf-8")

    undeclared = {variable: where for variable, where in reads.items() if variable not in declared}
    assert undeclared == {}, "read but declared in no settings class"
    assert [v for v in declared if f"| `{v}` |" not in reference] == []


def test_each_variable_is_declared_once_with_a_description():
    declared = declared_variables()
    assert len(declared) >= 60
    assert {variable: where for variable, where in declared.items() if len(where) > 1} == {}
    for _section, module, _path in settings_modules():
        for cls in settings_classes(module):
            for name, field in cls.model_fields.items():
                assert field.description, f"{cls.__name__}.{name} has no description"


def test_every_domain_settings_module_has_its_section():
    reference = REFERENCE.read_text("utf-8")
    domains = sorted(path.parent.name for path in PACKAGE.glob("*/settings.py"))
    assert {"news", "publish", "rides", "search", "serve", "sms", "stories"} <= set(domains)
    for domain in domains:
        assert f"\n## {domain}\n" in reference
        for cls in settings_classes(f"glimpse_assets.{domain}.settings"):
            assert f"### `{cls.__name__}`" in reference


def _package(root: Path, name: str, modules: dict[str, str]) -> Path:
    """A package `name` under `root` with `modules` (relative path -> source)."""
    package = root / name
    for relative, source in {"__init__.py": "", **modules}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        if path.parent != package:
            (path.parent / "__init__.py").touch()
    return package


WEATHER = """
    from pydantic import Field
    from glimpse_assets.settings import Secret, Settings, choice

    class WeatherSettings(Settings):
        \"\"\"Where the day's weather comes from.\"\"\"

        source: choice("sample", "met") = Field(
            "sample", alias="GLIMPSE_WEATHER_SOURCE", description="Where the weather comes from."
        )
        key_set: Secret = Field(False, alias="MET_API_KEY", description="The Met API's key.")
"""


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith("fake_")]:
        del sys.modules[module]


def test_a_new_domains_settings_appear_without_editing_the_generator(fake_packages):
    package = _package(
        fake_packages,
        "fake_glimpse",
        {
            "settings.py": "from glimpse_assets.settings import Settings\n",
            "weather/settings.py": WEATHER,
        },
    )

    reference = render(package, "fake_glimpse")

    assert "\n## weather\n" in reference
    assert "Declared in `fake_glimpse/weather/settings.py`." in reference
    assert "| `GLIMPSE_WEATHER_SOURCE` | `sample` | `sample` or `met` |" in reference
    assert "| `MET_API_KEY` | unset | secret: never logged | The Met API's key. |" in reference


def test_a_variable_declared_twice_or_without_a_description_is_refused(fake_packages):
    twice = _package(
        fake_packages,
        "fake_twice",
        {"weather/settings.py": WEATHER, "wind/settings.py": WEATHER.replace("Weather", "Wind")},
    )
    with pytest.raises(ValueError, match="GLIMPSE_WEATHER_SOURCE"):
        render(twice, "fake_twice")

    undescribed = WEATHER.replace(', description="The Met API\'s key."', "")
    silent = _package(fake_packages, "fake_silent", {"weather/settings.py": undescribed})
    with pytest.raises(ValueError, match=r"WeatherSettings.key_set \(MET_API_KEY\) has no desc"):
        render(silent, "fake_silent")


def _secret_fields() -> list[tuple[type[Settings], str, str]]:
    return [
        (cls, name, field.alias or name)
        for _section, module, _path in settings_modules()
        for cls in settings_classes(module)
        for name, field in cls.model_fields.items()
        if cls.is_secret(name) and name in config_reference.own_fields(cls)
    ]


def test_secrets_are_listed_as_never_logged_and_read_only_through_env_var():
    reference = REFERENCE.read_text("utf-8")
    secrets = _secret_fields()
    assert {variable for _cls, _name, variable in secrets} >= {
        "OPENAI_API_KEY",
        "CURRENTS_API_KEY",
        "INSTAGRAM_ACCESS_TOKEN",
        "GLIMPSE_SMTP_PASSWORD",
        "SLACK_BOT_TOKEN",
        "STRAVA_CLIENT_ID",
        "STRAVA_CLIENT_SECRET",
        "STRAVA_REFRESH_TOKEN",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "GLIMPSE_API_KEYS",
        "GLIMPSE_CELERY_BROKER_URL",
    }
    for cls, name, variable in secrets:
        row = next(line for line in reference.splitlines() if line.startswith(f"| `{variable}` |"))
        assert "never logged" in row and "| unset |" in row, row

        unset = cls.model_construct()
        assert unset.env_var(name) is None
        value = True if cls.model_fields[name].annotation is bool else ["a-key"]  # API keys
        is_set = cls.model_construct(**{name: value})
        env_var = is_set.env_var(name)
        assert isinstance(env_var, dg.EnvVar) and env_var.env_var_name == variable


def test_a_settings_object_keeps_no_secret_value():
    value = "sk-this-must-never-be-kept-0123456789"
    settings = ProviderSettings.from_env({"OPENAI_API_KEY": value})

    assert settings.kind == "openai"
    assert value not in repr(settings) and value not in settings.model_dump_json()
    assert settings.env_var("openai_api_key_set").env_var_name == "OPENAI_API_KEY"
    with pytest.raises(ValueError, match="text_model is neither a secret nor private"):
        settings.env_var("text_model")


def test_resources_take_their_secrets_through_env_var_from_the_declaration():
    env = {
        "GLIMPSE_STRAVA_SOURCE": "strava",
        "STRAVA_CLIENT_ID": "123",
        "STRAVA_CLIENT_SECRET": "client-secret-value",
    }
    source = strava_source(StoriesSettings.from_env(env))

    assert source.client_id.env_var_name == "STRAVA_CLIENT_ID"
    assert source.client_secret.env_var_name == "STRAVA_CLIENT_SECRET"
    assert source.refresh_token is None  # unset: the step that needs it says so


def test_a_resource_field_fed_by_a_setting_takes_its_default_and_description():
    defaults = SmsSettings.from_env({})
    fields = SmsSenderResource.model_fields
    resource = SmsSenderResource()

    assert resource.api_url == defaults.twilio_api_url
    assert fields["api_url"].description.startswith("TWILIO_API_URL: ")
    assert fields["auth_token"].description.startswith("TWILIO_AUTH_TOKEN, through dg.EnvVar")
    assert fields["subscribers"].description.startswith("GLIMPSE_SMS_SUBSCRIBERS, through dg")
    assert resource.auth_token is None and resource.subscribers is None


def test_sms_sender_is_built_from_the_settings_in_one_place():
    number = "+15551234567"
    settings = SmsSettings.from_env(
        {
            "GLIMPSE_SMS": "on",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_FROM_NUMBER": "+15550000000",
            "TWILIO_API_URL": "http://127.0.0.1:9",
            "GLIMPSE_SMS_SUBSCRIBERS": f"{number}, +1 555 765 4321",
            "GLIMPSE_PUBLIC_URL": "https://glimpse.example/",
        }
    )
    sender = SmsSenderResource.from_settings(settings)

    assert sender.enabled and sender.missing() == []
    assert sender.account_sid.env_var_name == "TWILIO_ACCOUNT_SID"
    assert sender.subscribers.env_var_name == "GLIMPSE_SMS_SUBSCRIBERS"  # never the numbers
    assert (sender.from_number, sender.api_url) == ("+15550000000", "http://127.0.0.1:9")
    assert sender.status_callback == "https://glimpse.example/sms/status"
    assert number not in repr(sender)
    assert SmsSenderResource(
        subscribers=" +1 555 123 4567,,+15557654321 "
    ).configured_subscribers() == [
        number,
        "+15557654321",
    ]


def test_the_docs_link_the_reference_and_keep_no_table_of_their_own():
    storage = (REPO / "docs" / "storage.md").read_text("utf-8")
    configuration = storage[storage.index("## Configuration") :].split("\n## ", 1)[0]
    readme = (REPO / "README.md").read_text("utf-8")
    pages = [readme] + [
        path.read_text("utf-8")
        for path in (REPO / "docs").rglob("*.md")
        if path.name != "configuration.md"
    ]

    assert "docs/configuration.md" in configuration
    assert "make config-reference" in configuration
    assert "docs/configuration.md" in readme and "make config-reference" in readme
    rows = [line for text in pages for line in text.splitlines() if line.startswith("| `GLIMPSE_")]
    assert rows == []


def test_no_resource_field_restates_a_setting():
    declared = set(declared_variables())
    assert restated_settings(
        'x: int = Field(default=8, description="GLIMPSE_LLM_MAX_RETRIES")', declared
    )
    restating = {
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if restated_settings(path.read_text("utf-8"), declared)
    }
    assert restating - RESTATING_STILL == set(), "use setting(SettingsClass, field) instead"
