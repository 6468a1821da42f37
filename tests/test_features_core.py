"""Positions (UTF-16), settings validation and the workspace: .bib discovery, reloads, laziness."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from features_support import make_workspace, open_file

from citewise.server.drafts.uris import path_to_uri
from citewise.server.features.positions import LspLineIndex, Pos, utf16_len
from citewise.server.features.settings import Settings, parse_settings

# --- positions ---------------------------------------------------------------------------


def test_utf16_columns_count_non_bmp_characters_twice():
    text = "a𝒜b😀c\nsecond"
    lines = LspLineIndex(text)
    assert utf16_len("a𝒜b😀c") == 7
    assert lines.position_of(text.index("b")) == Pos(0, 3)
    assert lines.position_of(text.index("c")) == Pos(0, 6)
    assert lines.offset_of(Pos(0, 6)) == text.index("c")
    assert lines.offset_of(Pos(1, 3)) == text.index("ond")


def test_a_column_inside_a_surrogate_pair_rounds_to_the_character_start():
    lines = LspLineIndex("x😀y")
    assert lines.offset_of(Pos(0, 2)) == 1
    assert lines.offset_of(Pos(0, 3)) == 2


def test_positions_past_the_end_are_clamped():
    text = "short\nlast line"
    lines = LspLineIndex(text)
    assert lines.offset_of(Pos(0, 99)) == len("short")
    assert lines.offset_of(Pos(40, 3)) == len(text)
    assert lines.clamp(Pos(-3, 5)) == Pos(0, 0)
    assert lines.position_of(10_000) == Pos(1, len("last line"))


def test_lsp_range_from_parser_columns():
    lines = LspLineIndex("𝒜𝒜 \\cite{key}")
    assert lines.lsp_range(0, 9, 0, 12).start == Pos(0, 11)


# --- settings ------------------------------------------------------------------------------


def test_settings_accept_camel_case_nested_under_citewise():
    settings, warnings = parse_settings({"citewise": {"suggestionCount": 3, "citeCommand": {"latex": "\\citep"},
                                                      "claimHints": True, "targetBib": "main.bib"}})
    assert warnings == []
    assert settings.suggestion_count == 3
    assert settings.cite_command == {"latex": "\\citep", "markdown": "[@]"}
    assert settings.claim_hints is True and settings.target_bib == "main.bib"


def test_bad_values_warn_once_each_and_keep_the_previous_value():
    base = Settings(suggestion_count=7)
    settings, warnings = parse_settings(
        {"suggestionCount": "many", "citeCommand": {"latex": "cite"}, "debounceMs": -1, "frobnicate": 1}, base)
    assert settings.suggestion_count == 7
    assert settings.cite_command["latex"] == "\\cite"
    assert settings.debounce_ms == 300
    assert len(warnings) == 4
    assert any("frobnicate" in w for w in warnings) and any("suggestionCount" in w for w in warnings)


def test_settings_that_are_not_an_object_are_reported():
    settings, warnings = parse_settings(["no"])
    assert settings == Settings() and len(warnings) == 1


# --- workspace -----------------------------------------------------------------------------


def test_drafts_find_their_declared_bib_files(tmp_path):
    ws = make_workspace(tmp_path, None)
    bib = str(tmp_path / "refs.bib")
    assert ws.bib_paths_for(path_to_uri(str(tmp_path / "paper.tex"))) == [bib]
    assert ws.bib_paths_for(str(tmp_path / "notes.md")) == [bib]
    assert sorted(ws.drafts_using(bib)) == sorted([str(tmp_path / "notes.md"), str(tmp_path / "paper.tex")])


def test_a_draft_in_a_symlinked_folder_has_its_bib_file_once(tmp_path):
    """The draft names refs.bib beside it, and its project (read with symlinks followed) names the
    same file by its real path: one .bib state, not the file parsed, embedded and ranked twice."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    ws = make_workspace(tmp_path / "link", None)
    uri = open_file(ws, tmp_path / "link" / "paper.tex")
    assert ws.bib_paths_for(uri) == [str(tmp_path / "link" / "refs.bib")]
    assert len(ws.bib_states_for(uri)) == 1


def test_open_text_overrides_the_file_on_disk(tmp_path):
    ws = make_workspace(tmp_path, None)
    uri = open_file(ws, tmp_path / "paper.tex", "\\bibliography{other}\n\\cite{x}\n")
    assert ws.bib_paths_for(uri) == [str(tmp_path / "other.bib")]
    assert [c.key_names for c in ws.citations(uri)] == [["x"]]


def test_a_bib_rewritten_on_disk_is_reloaded_while_the_old_parse_keeps_answering(tmp_path):
    ws = make_workspace(tmp_path, None)
    bib = tmp_path / "refs.bib"
    first = ws.bib_state(str(bib))
    assert first.entry("unusedEntry2020") is not None
    bib.write_text(bib.read_text().replace("unusedEntry2020", "renamedEntry2020"))
    os.utime(bib, (time.time() + 5, time.time() + 5))
    during = ws.bib_state(str(bib))
    assert during is first  # still serving the old parse while the new one is read
    ws.wait_for_reloads()
    after = ws.bib_state(str(bib))
    assert after.entry("renamedEntry2020") is not None and after.entry("unusedEntry2020") is None


def test_file_changed_names_the_drafts_to_rediagnose(tmp_path):
    ws = make_workspace(tmp_path, None)
    bib = str(tmp_path / "refs.bib")
    ws.bib_state(bib)
    affected = ws.file_changed(path_to_uri(bib))
    ws.wait_for_reloads()
    assert affected[0] == bib and str(tmp_path / "paper.tex") in affected


def test_a_missing_index_leaves_completion_to_the_bib(tmp_path):
    ws = make_workspace(tmp_path, None)
    assert ws.index is None and ws.searcher is None
    assert ws.status().index_open is False


def test_building_a_workspace_imports_neither_torch_nor_the_index(tmp_path):
    code = (
        "import sys; from citewise.server.features.workspace import Workspace;"
        "from citewise.server.features import completion, suggestions, hover, navigation, diagnostics, actions, commands;"
        f"ws = Workspace([{str(tmp_path)!r}]); ws.status();"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    env = dict(os.environ, CITEWISE_INDEX=str(tmp_path / "absent.sqlite"))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert output.stdout.split() == ["False", "False"]


# --- sentences -------------------------------------------------------------------------------


def test_sentences_ignore_abbreviations_decimals_and_initials():
    from citewise.server.features.sentences import sentences_near

    text = "Intro.\n\nAs A. Vaswani et al. showed, 3.5 points e.g. matter. Next one \\cite{x} here!"
    before, sentence, after = sentences_near(text, text.index("points"))
    assert sentence.text == "As A. Vaswani et al. showed, 3.5 points e.g. matter."
    assert before.text == "Intro." and after.text == "Next one \\cite{x} here!"
    assert text[:sentence.insertion_offset].endswith("e.g. matter")


def test_the_completion_query_leaves_out_the_citation_being_typed():
    from citewise.server.features.cursor_query import cursor_context

    text = "Diffusion models generate images \\citep[see][]{hoDen, vas"
    assert cursor_context(text, len(text)).query == "Diffusion models generate images"
    pandoc = "Models generate [@ho; @va] images."
    assert cursor_context(pandoc, pandoc.index("va]") + 2).query == "Models generate images"


def test_the_query_takes_the_neighbouring_sentence_from_the_same_paragraph_only():
    from citewise.server.features.cursor_query import cursor_context

    text = ("ODE solvers sample fast.\n\nExperts route inputs. They stay fair.\n\n"
            "\\section{Results}\nWe win.\n\nAlone here.\n\nNext paragraph.")
    assert cursor_context(text, text.index("fair") + 5).query == "Experts route inputs They stay fair"
    assert cursor_context(text, text.index("Experts") + 3).query == "Experts route inputs They stay fair"
    assert cursor_context(text, text.index("We win") + 3).query == "Results We win"  # the heading line leads it
    alone = cursor_context(text, text.index("Alone") + 3)
    assert alone.query == "Alone here" and alone.neighbour is None
