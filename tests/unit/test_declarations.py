"""Element declarations: the schema, problems named by file, line and key path, the rules a
schema cannot say, and what the loader builds."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from headwater.elements import catalog, declaration, declaration_loader, registry, schema
from headwater.errors import ConfigurationError

BUILT_IN = Path(declaration.__file__).resolve().parent
NOTES = Path(__file__).resolve().parents[1] / "elements" / "notes"
MAILCHIMP = BUILT_IN / "mailchimp"

MINIMAL = """\
key: tiny
name: Tiny
hub: crm
api:
  baseUrl: https://api.tiny.example
authentication:
  type: oauth2
  oauth2:
    authorizeUrl: "{baseUrl}/authorize"
    tokenUrl: "{baseUrl}/token"
resources:
  - name: people
    path: /hubs/crm/people
    provider: {method: GET, path: /people}
"""


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "element.yaml"
    file.write_text(textwrap.dedent(text))
    return file


def _problems(tmp_path: Path, text: str) -> list[str]:
    file = _write(tmp_path, text)
    with pytest.raises(schema.DeclarationError) as raised:
        declaration_loader.load(file)
    assert isinstance(raised.value, ConfigurationError)
    return raised.value.message.splitlines()


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    loaded = json.loads(schema.text())
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(loaded)


@pytest.mark.parametrize(
    "folder", [BUILT_IN / "acton", NOTES, MAILCHIMP], ids=["acton", "notes", "mailchimp"]
)
def test_shipped_and_test_declarations_satisfy_the_schema(folder: Path) -> None:
    data = yaml.safe_load((folder / "element.yaml").read_text())
    jsonschema.Draft202012Validator(schema.schema()).validate(data)
    assert declaration_loader.load(folder).key == folder.name


def test_a_wrong_value_is_named_by_line_and_key_path(tmp_path: Path) -> None:
    text = MINIMAL + "    paging:\n      style: cursor\n"
    [problem] = _problems(tmp_path, text)
    assert problem == (
        f"{tmp_path / 'element.yaml'}:16: resources[0].paging.style: 'cursor' is not one of "
        "['offset', 'pageNumber', 'pageToken', 'link']"
    )


def test_every_problem_is_listed_in_line_order(tmp_path: Path) -> None:
    text = MINIMAL.replace("name: Tiny\n", "").replace("GET, path: /people", "FETCH, path: people")
    text += "    colour: red\n    paging: {style: offset}\n"
    problems = _problems(tmp_path, text)
    assert problems[0].endswith(":1: 'name' is a required property")
    assert any(":13: resources[0].provider.method: 'FETCH' is not one of" in p for p in problems)
    assert any(":13: resources[0].provider.path: 'people' does not have" in p for p in problems)
    assert any(":14: resources[0].colour: unknown key; expected one of" in p for p in problems)
    assert any(
        ":15: resources[0].paging: 'offsetParam' is a required property" in p for p in problems
    )
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_yaml_that_does_not_parse_names_its_line(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, MINIMAL + "  - name: [unclosed\n")
    assert problem.startswith(f"{tmp_path / 'element.yaml'}:16: is not YAML")


def test_rules_beyond_the_schema(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace('"{baseUrl}/token"', '"{login}/token"')
        .replace("path: /people}", 'path: "/people/{personId}"}')
        .replace("path: /hubs/crm/people", "path: /hubs/sales/people")
    )
    text += textwrap.dedent("""\
          - name: people
            path: /hubs/crm/others
        events:
          methods: [polling, webhooks]
          pollerConfiguration:
            contacts: {url: /hubs/crm/people, idField: id}
        """)
    problems = _problems(tmp_path, text)
    expected = [
        ":10: authentication.oauth2.tokenUrl: {login} is neither baseUrl nor a name in api.urls",
        ":13: resources[0].path: a hub path of this element starts with /hubs/crm/",
        ":14: resources[0].provider.path: {personId} is not a placeholder of the hub path",
        ":15: resources[1]: says no 'provider' call, and the element has no hooks to serve it",
        ":15: resources[1].name: another resource is already called 'people'",
        ":18: events.methods: lists webhooks but 'events.webhooks' says nothing of them",
        ":20: events.pollerConfiguration.contacts: is not a declared resource",
    ]
    assert len(problems) == len(expected)
    for problem, wanted in zip(problems, expected, strict=True):
        assert wanted in problem


def test_webhooks_are_declared_as_data() -> None:
    webhooks = declaration_loader.load(MAILCHIMP).events.webhooks
    assert webhooks is not None and webhooks.registration is not None
    assert webhooks.verification.type == "urlSecret"
    assert webhooks.types["subscribe"] == "CREATED" and webhooks.types["cleaned"] == "UPDATED"
    assert webhooks.registration.create == declaration.Call("POST", "/lists/{listId}/webhooks")
    assert (webhooks.id_field, webhooks.object_type) == ("data.new_email|data.email", "contacts")
    assert webhooks.id_transform == "md5Lowercase"
    assert webhooks.registration.list == declaration.Call("GET", "/lists/{listId}/webhooks")


def test_the_loader_builds_frozen_values(tmp_path: Path) -> None:
    loaded = declaration_loader.load(NOTES)
    notes = loaded.resource("notes")
    assert notes is not None and notes.paging is not None
    assert (notes.paging.style, notes.paging.max_page_size) == ("offset", 50)
    assert notes.where == (declaration.WhereTerm("updated_since", "=", "updated_since"),)
    assert notes.operations.update == declaration.Call("PATCH", "/folders/{folderId}/notes/{id}")
    assert loaded.urls == {"login": "https://login.notes.example"}
    assert loaded.max_in_flight == 4
    flow = loaded.authentication.oauth2
    assert flow is not None and flow.account_discovery is not None
    assert flow.account_discovery.token_prefix == "OAuth "
    assert flow.account_discovery.base_path == "/v1"
    tiny = declaration_loader.load(_write(tmp_path, MINIMAL))
    assert tiny.rate_per_second == declaration.DEFAULT_RATE_PER_SECOND
    assert tiny.resources[0].paging is None and tiny.resources[0].id_field == "id"


def test_named_urls_have_settings_of_their_own() -> None:
    assert registry.url_setting("mailchimp", "login") == "HEADWATER_MAILCHIMP_LOGIN_URL"
    assert registry.url_setting("notes", "authServer") == "HEADWATER_NOTES_AUTH_SERVER_URL"
    notes = registry.build(
        {"HEADWATER_NOTES_LOGIN_URL": "http://127.0.0.1:9/"}, extra_paths=[NOTES]
    ).get("notes")
    assert notes.urls == {"login": "http://127.0.0.1:9"}
    url = notes.authorize_url(client_id="c", redirect_uri="https://app/cb")
    assert url.startswith("http://127.0.0.1:9/oauth/authorize?scope=notes.read+notes.write&")


def test_a_bad_declaration_in_the_elements_path_stops_the_catalog(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "element.yaml").write_text(MINIMAL.replace("hub: crm", "hub: 7"))
    with pytest.raises(ConfigurationError) as raised:
        registry.build({}, extra_paths=[tmp_path])
    assert f"{folder / 'element.yaml'}:3: hub: 7 is not of type 'string'" in raised.value.message


def test_the_catalog_views(tmp_path: Path) -> None:
    found = registry.build({}, extra_paths=[NOTES])
    lines = catalog.table(found).splitlines()
    assert lines[0].split() == ["KEY", "NAME", "HUB", "EVENTS"]
    assert lines[1].split() == ["acton", "Act-On", "marketing", "polling,webhooks"]
    assert lines[2].split() == ["mailchimp", "Mailchimp", "marketing", "polling,webhooks"]
    assert lines[3].split() == ["notes", "Notes", "crm", "polling"]
    shown = catalog.show(found, "notes")
    assert yaml.safe_load(shown) == yaml.safe_load((NOTES / "element.yaml").read_text())
    valid, report = catalog.validate([NOTES, _write(tmp_path, MINIMAL)])
    assert valid and report.count(": ok") == 2
    (tmp_path / "element.yaml").write_text(MINIMAL.replace("type: oauth2", "type: basic"))
    valid, report = catalog.validate([tmp_path])
    assert not valid and ":7: authentication.type: 'basic' is not one of" in report


def test_the_docs_show_the_declarations_as_they_are() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "elements.md").read_text()
    blocks = [yaml.safe_load(b.split("```")[0]) for b in docs.split("```yaml\n")[1:]]
    by_key = {b["key"]: b for b in blocks if isinstance(b, dict) and "key" in b}
    for folder in (BUILT_IN / "acton", BUILT_IN / "mailchimp", NOTES):
        shipped = yaml.safe_load((folder / "element.yaml").read_text())
        assert by_key[shipped["key"]] == shipped, f"docs/elements.md differs from {folder}"
