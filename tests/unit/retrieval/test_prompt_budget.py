"""Passages fitted to the prompt's token budget: trimmed to what the question needs, taken by
relevance with room kept for the ones below, renumbered (retrieval/prompt_budget.py)."""

from __future__ import annotations

from kb.text.sparse import tokenize
from retrieval.prompt_budget import GAP, estimated_tokens, fit_passages, trimmed
from retrieval.types import Passage

BACKUPS = (
    "The operations team runs the servers. "
    "Lunch is served at noon. "
    "Parking permits are renewed in January. "
    "Nightly backups are kept for 35 days. "
    "They are stored in the Frankfurt region. "
    "The office closes at six. "
    "Visitors sign in at the front desk."
)


def passage(n: int, text: str = BACKUPS, title: str = "operations") -> Passage:
    return Passage(n, f"chunk-{n}", n, title, n, "", text, 1.0 / n, ("dense",))


def test_a_passage_keeps_its_matching_sentences_with_their_neighbours_in_order() -> None:
    text = trimmed(BACKUPS, set(tokenize("How long are backups kept?")))

    assert text == (
        "… Parking permits are renewed in January. Nightly backups are kept for 35 days. "
        "They are stored in the Frankfurt region. …"
    )


def test_separate_matches_are_joined_by_a_gap() -> None:
    text = trimmed(BACKUPS, set(tokenize("backups and visitors")))

    assert f"Frankfurt region.{GAP}Visitors" not in text  # a neighbour closes the gap
    assert text.startswith("… Parking") and "The office closes at six." in text
    assert text.count("…") == 1


def test_a_passage_sharing_no_term_with_the_question_goes_whole() -> None:
    assert trimmed(BACKUPS, set(tokenize("备份保留多久？"))) == BACKUPS


def test_a_budget_of_zero_gives_every_passage_whole() -> None:
    passages = [passage(1), passage(2)]

    fitted = fit_passages("backups", passages, budget=0)

    assert fitted.passages == passages and fitted.prompt == passages


def test_a_long_first_passage_keeps_its_best_sentences_so_the_ones_below_still_fit() -> None:
    filler = "Backups are discussed at length in this chapter. " * 12
    long_text = filler + "Nightly backups are kept for 35 days in the vault. " + filler
    passages = [passage(1, long_text, "long"), passage(2), passage(3, title="third")]

    fitted = fit_passages("How long are nightly backups kept?", passages, budget=120)

    assert [(p.n, p.chunk_id) for p in fitted.passages] == [
        (1, "chunk-1"),
        (2, "chunk-2"),
        (3, "chunk-3"),
    ]
    assert [p.text for p in fitted.passages] == [long_text, BACKUPS, BACKUPS]  # for citations
    first = fitted.prompt[0].text
    assert "kept for 35 days in the vault" in first and len(first) < len(long_text) / 2
    assert sum(estimated_tokens(p.text) for p in fitted.prompt) <= 120


def test_a_small_budget_shows_the_most_relevant_passages_in_order_within_it() -> None:
    passages = [passage(n) for n in range(1, 21)]

    for budget in (10, 40, 300):
        fitted = fit_passages("backups", passages, budget=budget)

        shown = [p.chunk_id for p in fitted.passages]
        assert shown == [f"chunk-{n}" for n in range(1, len(shown) + 1)]
        assert sum(estimated_tokens(p.text) for p in fitted.prompt) <= budget


def test_the_first_passage_goes_even_when_it_alone_is_over_budget_cut_at_a_word() -> None:
    fitted = fit_passages("backups", [passage(1, "backups " * 200)], budget=20)

    (shown,) = fitted.prompt
    assert estimated_tokens(shown.text) <= 20 and shown.text.endswith("backups …")
    assert fitted.passages[0].text == "backups " * 200


def test_a_sentence_too_long_for_its_room_is_cut_and_marked_as_taken_from_inside() -> None:
    text = "The office closes at six. Nightly backups are kept " + "very " * 80 + "long."

    fitted = fit_passages("backups", [passage(1, BACKUPS), passage(2, text)], budget=40)

    second = fitted.prompt[1].text
    assert second.startswith("… Nightly backups are kept very") and second.endswith(" …")
    assert sum(estimated_tokens(p.text) for p in fitted.prompt) <= 40


def test_a_question_with_chinese_or_cyrillic_letters_gets_every_passage_whole() -> None:
    passages = [passage(1), passage(2), passage(3)]

    for question in ("备份保留多久？", "Сколько хранятся backups?", "Как настроить backups cron?"):
        fitted = fit_passages(question, passages, budget=40)

        assert fitted.passages == passages and fitted.prompt == passages


def test_a_question_sharing_no_term_with_any_passage_gets_them_whole() -> None:
    chinese = [passage(1, "每晚的备份保留三十五天。备份存放在法兰克福区域。" * 5), passage(2)]

    assert fit_passages("How long are snapshots retained?", chinese, budget=40).prompt == chinese
    trimmed_too = fit_passages("How long are backups retained?", chinese, budget=40).prompt
    assert trimmed_too != chinese


def test_token_estimates_follow_the_script() -> None:
    assert estimated_tokens("a" * 470) == 100
    assert estimated_tokens("备份" * 60) == 100
    assert estimated_tokens("б" * 290) == 100
