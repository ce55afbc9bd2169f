from __future__ import annotations

import pytest

from voice_server.voice.clauses import ClauseSplitter


def split_streamed(text: str, step: int = 3, **kw: int) -> list[str]:
    splitter = ClauseSplitter(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.feed(text[i : i + step])
    return out + splitter.flush()


def test_sentences_come_out_as_soon_as_the_next_word_starts() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Hello there.") == []
    assert splitter.feed(" How") == ["Hello there."]
    assert splitter.feed(" are you?") == []
    assert splitter.flush() == ["How are you?"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Smith will see you at 3.14 p.m. today. Bring your card!",
            ["Dr. Smith will see you at 3.14 p.m. today.", "Bring your card!"],
        ),
        (
            "Bring a document, e.g. a passport. Then wait.",
            ["Bring a document, e.g. a passport.", "Then wait."],
        ),
        (
            "See https://example.com/a.b?x=1. It has the form.",
            ["See https://example.com/a.b?x=1.", "It has the form."],
        ),
        ("Pi is 3.14159 roughly. Yes.", ["Pi is 3.14159 roughly.", "Yes."]),
        ("The answer is no. Sorry!", ["The answer is no.", "Sorry!"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("J. R. R. Tolkien wrote it. Done.", ["J. R. R. Tolkien wrote it.", "Done."]),
    ],
)
def test_abbreviations_numbers_and_urls_do_not_end_a_sentence(
    text: str, expected: list[str]
) -> None:
    assert split_streamed(text) == expected


def test_a_long_sentence_is_cut_at_a_comma() -> None:
    text = (
        "Our opening hours are from nine in the morning to six in the evening on weekdays, "
        "and from ten to four on Saturdays."
    )
    clauses = split_streamed(text, long_clause_chars=60)
    assert len(clauses) == 2
    assert clauses[0].endswith("weekdays,")
    assert " ".join(clauses) == text


def test_text_without_punctuation_is_cut_at_a_space_before_the_cap() -> None:
    text = " ".join(["word"] * 100)
    clauses = split_streamed(text, max_chars=50)
    assert all(len(c) <= 50 for c in clauses)
    assert " ".join(clauses) == text


def test_the_first_clause_is_cut_at_an_early_pause_later_ones_are_not() -> None:
    splitter = ClauseSplitter()
    reply = "According to the documents, the shop opens at nine, closes at six, and on Sundays"
    out: list[str] = []
    for word in reply.split(" "):
        out += splitter.feed(word + " ")
    # The first pause after 20 characters starts speech; the rest waits for a longer clause.
    assert out == ["According to the documents,"]
    out += splitter.feed("it stays closed. ")  # after "Sundays "
    assert out[1] == "the shop opens at nine, closes at six, and on Sundays it stays closed."


def test_a_reply_arriving_whole_still_starts_with_its_first_pause() -> None:
    splitter = ClauseSplitter()
    out = splitter.feed("According to the documents: the shop opens at nine. It closes at six. ")
    assert out == ["According to the documents:", "the shop opens at nine.", "It closes at six."]
