"""English and German: chosen from Accept-Language, overridden by ?lang=, kept in a cookie;
the catalogs are complete and compiled."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_admin.i18n import LOCALES, parse_accept_language
from burrow_admin.testing import Seeder
from burrow_tasks import JobQueue

MOUNT = "/admin/jobs"
LIST = MOUNT + "/"
PACKAGE = Path(__file__).parents[1]
SOURCE = PACKAGE / "src" / "burrow_admin"
LOCALE_DIR = SOURCE / "locale"
SECRET = "test-secret-key-0123456789abcdef"


def test_english_is_the_default(client: TestClient) -> None:
    response = client.get(LIST)

    assert '<html lang="en">' in response.text
    assert ">Pending <" in response.text


def test_accept_language_german_gives_german(client: TestClient) -> None:
    response = client.get(LIST, headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"})

    assert '<html lang="de">' in response.text
    assert ">Wartend <" in response.text
    assert "Noch keine Jobs." in response.text


def test_an_unsupported_language_falls_back_to_english(client: TestClient) -> None:
    assert '<html lang="en">' in client.get(LIST, headers={"accept-language": "fr"}).text


def test_lang_overrides_the_header_and_is_remembered(client: TestClient) -> None:
    first = client.get(LIST + "?lang=de", headers={"accept-language": "en"})
    later = client.get(LIST, headers={"accept-language": "en"})

    assert '<html lang="de">' in first.text
    assert "burrow_admin_lang=de" in first.headers["set-cookie"]
    assert '<html lang="de">' in later.text


def test_an_unknown_lang_is_a_400(client: TestClient) -> None:
    response = client.get(LIST + "?lang=xx")

    assert response.status_code == 400
    assert "Unknown language &#39;xx&#39;" in response.text


def test_language_links_keep_the_other_parameters(client: TestClient) -> None:
    html = client.get(LIST + "?status=dead").text

    assert 'href="/admin/jobs/?status=dead&amp;lang=de"' in html


def test_language_links_on_a_confirmation_page_open_the_job_page(
    client: TestClient, seed: Seeder
) -> None:
    # The confirmation answers a POST; a link back to the action's URL would be a 405.
    job_id = seed.pending()
    token = client.get(LIST).context["csrf_token"]  # type: ignore[attr-defined]

    response = client.post(f"{MOUNT}/{job_id}/cancel", data={"csrf_token": token})

    assert response.template.name == "burrow_admin/confirm.html"  # type: ignore[attr-defined]
    assert f'href="{MOUNT}/{job_id}?lang=de"' in response.text


def test_language_links_never_point_to_another_site(queue: JobQueue) -> None:
    client = TestClient(create_admin(queue, allow_anonymous=True, secret_key=SECRET))

    html = client.get("http://testserver//evil.example").text

    assert 'href="/evil.example?lang=de"' in html
    assert 'href="//' not in html


def test_error_messages_are_translated(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending()
    token = client.get(LIST + "?lang=de").context["csrf_token"]  # type: ignore[attr-defined]

    response = client.post(f"{MOUNT}/{job_id}/retry", data={"csrf_token": token})

    assert response.status_code == 400
    assert "Nur ein fehlgeschlagener oder toter Job" in response.text
    assert "sein Status ist Wartend." in response.text


def test_dates_follow_the_locale(client: TestClient, seed: Seeder) -> None:
    job_id = seed.pending()

    german = client.get(f"{MOUNT}/{job_id}?lang=de").text
    english = client.get(f"{MOUNT}/{job_id}?lang=en").text

    assert "02.03.2026, 12:00:00" in german
    assert "Mar 2, 2026, 12:00:00" in english.replace("\u202f", " ")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", ["de"]),
        ("en;q=0.4, de-CH;q=0.8", ["de", "en"]),
        ("fr, *;q=0.1", ["fr", "*"]),
        ("de;q=0, en", ["en"]),
        ("garbage;;q=x, ,de", ["de"]),
        ("", []),
    ],
)
def test_parse_accept_language(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def _extracted_ids() -> set[str]:
    ids: set[str] = set()
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for _, _, message, _, _ in extract_from_dir(
        str(SOURCE), method_map, options_map=options, keywords=keywords
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_in_the_sources_is_in_the_catalog(locale: str) -> None:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "burrow_admin.po").open("rb") as po:
        catalog = read_po(po)
    in_catalog = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}

    missing = _extracted_ids() - in_catalog

    assert not missing, f"run pybabel extract + update (see README): {sorted(missing)}"


def test_every_german_message_is_translated() -> None:
    with (LOCALE_DIR / "de" / "LC_MESSAGES" / "burrow_admin.po").open("rb") as po:
        catalog = read_po(po)

    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]

    assert not untranslated


def _translations(catalog: Catalog) -> dict[object, object]:
    """What a compiled catalog translates: every message id (singular, or singular and
    plural) to its string(s). The header entry is left out: it names the Babel version that
    compiled it, which is no reason to recompile."""
    return {_plain(message.id): _plain(message.string) for message in catalog if message.id}


def _plain(text: object) -> object:
    # A plural message reads back from a .po as a tuple and from a .mo as a list.
    return tuple(text) if isinstance(text, list | tuple) else text


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_mo_matches_the_po(locale: str) -> None:
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    with (folder / "burrow_admin.po").open("rb") as po:
        fresh = io.BytesIO()
        write_mo(fresh, read_po(po, locale=locale))
    fresh.seek(0)
    with (folder / "burrow_admin.mo").open("rb") as mo:
        committed = read_mo(mo)

    assert _translations(committed) == _translations(read_mo(fresh)), (
        "recompile: pybabel compile -d src/burrow_admin/locale -D burrow_admin"
    )
