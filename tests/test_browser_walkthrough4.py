"""Browser tests for the defects found at stop 24; each failed before its fix.

An import, a preset or an applied JSON that gives the conversation already applied puts its JSON back in
the editor (the editor kept text not applied, flagged, even a refused 20 MiB paste: only a changed
conversation redrew it).
What is left out: the earlier walkthroughs' (`test_browser_walkthrough.py` … `test_browser_walkthrough3.py`).
"""

import json

import pytest

from browser_support import app_url, browser, open_page, rows_include, type_json, wait_text  # noqa: F401
from ui.texts import EN

pytestmark = pytest.mark.browser


def test_an_import_of_the_conversation_already_applied_puts_its_json_back_in_the_editor(browser, app_url,
                                                                                        tmp_path):
    page = open_page(browser, app_url)
    try:
        rows_include(page, "strawberry")
        applied = json.loads(page.locator("#conversation-json .cm-content").inner_text())
        type_json(page, "#conversation-json", "[not applied")
        wait_text(page, "#json-dirty", EN["json_unapplied"][:20])
        same = tmp_path / "same.json"
        same.write_text(json.dumps(applied), encoding="utf-8")
        with page.expect_file_chooser() as chooser:
            page.click("#import-json-btn")
        chooser.value.set_files(str(same))
        wait_text(page, "#conversation-status", EN["json_imported"].format(name="same.json", count=len(applied)))
        page.wait_for_function("!document.querySelector('#conversation-json .cm-content').innerText"
                               ".includes('[not applied')")
        assert json.loads(page.locator("#conversation-json .cm-content").inner_text()) == applied
        assert page.locator("#json-dirty").inner_text().strip() == ""
        assert page.dialogs == []
    finally:
        page.context.close()
