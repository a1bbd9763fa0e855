"""Escaping of untrusted text for HTML, script-embedded JSON, XML and terminals."""


from xtalk.report.text import clean, esc, plain, xml_text


def test_esc_escapes_markup_and_both_quote_kinds():
    assert esc('<a href="x" onclick=\'y\'>&') == "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;"


def test_esc_drops_control_characters_but_keeps_newlines_and_tabs():
    assert esc("a\x00b\x1bc\nd\te\x85") == "a\ufffdb\ufffdc\nd\te\ufffd"


def test_esc_of_none_is_empty_and_of_numbers_is_their_text():
    assert esc(None) == "" and esc(3) == "3"


def test_xml_text_removes_characters_xml_forbids():
    assert xml_text("ok\x00\x08\x0b\ufffe\n\t\r") == "ok\ufffd\ufffd\ufffd\ufffd\n\t\r"


def test_plain_removes_terminal_escape_sequences_and_shortens():
    assert "\x1b" not in plain("\x1b[31mred\x1b[0m")
    assert plain("abcdefgh", 5) == "abcd…"


def test_clean_keeps_ordinary_unicode():
    assert clean("Grüße ✓ 日本") == "Grüße ✓ 日本"
