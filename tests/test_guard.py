"""The sensitive-content guard: every generated secret is caught, ordinary messages pass
untouched, operators asking for secrets are refused and their warnings are not."""

from __future__ import annotations

import unicodedata
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnemonic import Mnemonic

from support_api.lib.guard import MASK_KINDS, REFUSE_KINDS, Finding, GuardResult, inspect
from support_api.lib.guard import mnemonic as guard_mnemonic
from support_api.lib.guard import numbers
from tests import guard_corpus as corpus


def _secret_span(case: corpus.Case) -> tuple[int, int] | None:
    if not case.secret:
        return None
    start = case.text.find(case.secret)
    assert start >= 0, "corpus error: the secret is not in the text"
    return start, start + len(case.secret)


def _assert_nothing(result: GuardResult, text: str) -> None:
    assert result.blocked is None, (result.blocked, text[result.blocked.start:result.blocked.end])
    assert result.ambiguous is None, (result.ambiguous, text[result.ambiguous.start:result.ambiguous.end])
    assert result.masked == ()
    assert result.masked_text == text


def _by_kind(kind: str) -> list[corpus.Case]:
    return [case for case in corpus.SECRETS if case.kind == kind]


def _refusal(case: corpus.Case) -> None:
    result = inspect(case.text)
    assert result.blocked is not None, "not caught"
    assert result.blocked.kind == case.kind
    span = _secret_span(case)
    if span is not None:
        assert result.blocked.start <= span[0] and span[1] <= result.blocked.end, (
            case.text[result.blocked.start:result.blocked.end]
        )


def _mask(case: corpus.Case) -> None:
    result = inspect(case.text)
    assert result.blocked is None and result.ambiguous is None
    assert [finding.kind for finding in result.masked] == [case.kind]
    finding = result.masked[0]
    span = _secret_span(case)
    assert span is not None
    assert (finding.start, finding.end) == span
    digits = [char for char in case.secret if char.isdigit()]
    shown = result.masked_text[span[0]:span[1]]
    assert [char for char in shown if char.isdigit()] == digits[-4:]
    assert shown.count("*") == len(digits) - 4
    assert result.masked_text[:span[0]] == case.text[:span[0]]
    assert result.masked_text[span[1]:] == case.text[span[1]:]


@pytest.mark.parametrize("case", _by_kind("mnemonic"), ids=lambda c: c.id)
def test_mnemonic_is_refused(case: corpus.Case) -> None:
    _refusal(case)


@pytest.mark.parametrize("case", _by_kind("private_key"), ids=lambda c: c.id)
def test_private_key_is_refused(case: corpus.Case) -> None:
    _refusal(case)


@pytest.mark.parametrize("case", _by_kind("password"), ids=lambda c: c.id)
def test_given_password_is_refused(case: corpus.Case) -> None:
    _refusal(case)
    result = inspect(case.text)
    assert result.blocked is not None
    assert case.text[result.blocked.start:result.blocked.end] == case.secret


@pytest.mark.parametrize("case", _by_kind("card_number"), ids=lambda c: c.id)
def test_card_number_is_masked(case: corpus.Case) -> None:
    _mask(case)


@pytest.mark.parametrize("case", _by_kind("my_number"), ids=lambda c: c.id)
def test_my_number_is_masked(case: corpus.Case) -> None:
    _mask(case)


@pytest.mark.parametrize("case", _by_kind("bank_account"), ids=lambda c: c.id)
def test_bank_account_is_masked(case: corpus.Case) -> None:
    _mask(case)


@pytest.mark.parametrize("case", corpus.AMBIGUOUS, ids=lambda c: c.id)
def test_unexplained_key_material_is_ambiguous(case: corpus.Case) -> None:
    result = inspect(case.text)
    assert result.blocked is None
    assert result.ambiguous is not None and result.ambiguous.kind == "possible_private_key"
    assert result.masked == ()


@pytest.mark.parametrize("text", corpus.ORDINARY, ids=lambda t: t[:60])
def test_ordinary_message_is_untouched(text: str) -> None:
    _assert_nothing(inspect(text), text)


@pytest.mark.parametrize("text", corpus.long_ordinary(100), ids=lambda t: t[:40])
def test_long_ordinary_message_is_untouched(text: str) -> None:
    _assert_nothing(inspect(text), text)


@pytest.mark.parametrize("text", corpus.SOLICITATIONS)
def test_operator_asking_for_a_secret_is_refused(text: str) -> None:
    result = inspect(text, author="operator")
    assert result.blocked is not None and result.blocked.kind == "solicitation"
    # A user asking the same is not refused: users ask "what is a seed phrase?" all the time.
    assert inspect(text).blocked is None


@pytest.mark.parametrize("text", corpus.OPERATOR_ORDINARY)
def test_operator_warning_or_instruction_is_untouched(text: str) -> None:
    _assert_nothing(inspect(text, author="operator"), text)


def test_operator_messages_get_the_same_detection() -> None:
    phrase = Mnemonic("english").generate(128)
    result = inspect(f"例: {phrase}", author="operator")
    assert result.blocked is not None and result.blocked.kind == "mnemonic"
    masked = inspect("カード番号 4111 1111 1111 1111 ですね", author="operator")
    assert masked.masked_text == "カード番号 **** **** **** 1111 ですね"


# --- the contract the lead integrates against ---------------------------------------------

def test_result_shape_and_mask_format() -> None:
    result = inspect("card 4111111111111111 please")
    assert result == GuardResult(
        blocked=None,
        ambiguous=None,
        masked_text="card ************1111 please",
        masked=(Finding("card_number", 5, 21),),
    )
    assert REFUSE_KINDS == {"mnemonic", "private_key", "password", "solicitation", "off_platform"}
    assert MASK_KINDS == {"card_number", "my_number", "bank_account"}


def test_blocked_is_the_first_refusal_and_masks_still_apply() -> None:
    text = "PIN: 4821 and my card 4111 1111 1111 1111, private key " + "ab" * 32
    result = inspect(text)
    assert result.blocked == Finding("password", 5, 9)
    assert result.masked_text.endswith("**** **** **** 1111, private key " + "ab" * 32)


def test_spans_index_the_original_text_with_wide_characters() -> None:
    text = "ｐａｓｓｗｏｒｄ：ｈｕｎｔｅｒ２　カード番号：４１１１－１１１１－１１１１－１１１１"
    result = inspect(text)
    assert result.blocked is not None
    assert text[result.blocked.start:result.blocked.end] == "ｈｕｎｔｅｒ２"
    assert result.masked_text.endswith("****－****－****－１１１１")


def test_tx_hash_is_not_a_key_but_a_nearer_key_word_wins() -> None:
    tx = "9f" * 32
    assert inspect(f"txid {tx}").ambiguous is None
    assert inspect(f"送金のハッシュ値は {tx}").ambiguous is None
    result = inspect(f"txではなく秘密鍵です {tx}")
    assert result.blocked is not None and result.blocked.kind == "private_key"


def test_public_keys_and_addresses_pass() -> None:
    texts = [
        corpus.extended_public(),
        "ETH 0x" + "ab" * 20,
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh",
        "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE\n-----END PUBLIC KEY-----",
    ]
    for text in texts:
        _assert_nothing(inspect(text), text)


def test_checksum_matches_the_reference_implementation() -> None:
    for language in ("english", "japanese"):
        reference = Mnemonic(language)
        for strength in (128, 160, 192, 224, 256):
            words = unicodedata.normalize("NFKD", reference.generate(strength)).split(" ")
            assert guard_mnemonic.checksum_valid(words, language)
            swapped = [words[1], words[0], *words[2:]]
            assert guard_mnemonic.checksum_valid(swapped, language) == reference.check(" ".join(swapped))


def test_eleven_words_are_not_a_phrase() -> None:
    words = Mnemonic("english").generate(128).split()
    text = " ".join(words[:11])
    _assert_nothing(inspect(text), text)


def test_three_typos_exceed_the_budget_but_a_valid_checksum_needs_none() -> None:
    words = Mnemonic("english").generate(128).split()
    broken = [word + "q" for word in words[:3]] + words[3:]
    assert inspect(" ".join(broken)).blocked is None
    # Sentence punctuation breaks the heuristic, not the checksum.
    assert inspect(". ".join(words)).blocked is not None


def test_check_digits() -> None:
    assert numbers.luhn_valid("4111111111111111")
    assert not numbers.luhn_valid("4111111111111112")
    for _ in range(200):
        number = corpus.make_my_number()
        assert numbers.my_number_valid(number)
        wrong = number[:11] + str((int(number[11]) + 1) % 10)
        assert not numbers.my_number_valid(wrong)


def test_long_texts_are_handled() -> None:
    phrase = Mnemonic("english").generate(256)
    filler = "about account again also amount number order because " * 900
    result = inspect(filler + phrase)
    assert result.blocked is not None and result.blocked.kind == "mnemonic"
    # The span may take in a few filler words (they are list words too), not the whole filler.
    assert len(filler) - 100 <= result.blocked.start <= len(filler) and result.blocked.end == len(filler + phrase)
    huge = "0" * 70000 + " パスワード: hunter22"
    assert inspect(huge).blocked is None  # past MAX_SCAN: the API refuses such a text anyway
    assert inspect(huge).masked_text == huge


_HOSTILE = {
    "one-giant-word": "a" * 65536,
    "spaced-digits": "1 " * 32768,
    "list-word-repeated": "abandon " * 8192,
    "list-words-with-dots": ". ".join(Mnemonic("english").wordlist * 4)[:65536],
    "things-without-verb": "パスワードと" * 10922,
    "verbs-without-thing": "send your " * 6553,
    "password-words": "password: " * 6553,
    "value-then-word": "abc1がパスワード" * 6553,
    "pem-begins": "-----BEGIN PRIVATE KEY-----" * 2427,
    "cards-in-context": "カード 4111 1111 1111 1111 " * 2000,
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", list(_HOSTILE))
def test_hostile_long_texts_stay_linear(name: str) -> None:
    """Inputs that once made a pattern backtrack quadratically (a list of things with no verb
    took 45 s) or a token cost O(n²); each now takes well under 100 ms at 64 KiB."""
    authors: tuple[Literal["user", "operator"], ...] = ("user", "operator")
    for author in authors:
        result = inspect(_HOSTILE[name], author=author)
        assert len(result.masked_text) == len(_HOSTILE[name])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 -.:abcxyzKL5あいう漢パスワード口座番号\n　１２３")), max_size=300))
def test_any_text_gives_a_well_formed_result(text: str) -> None:
    result = inspect(text)
    assert len(result.masked_text) == len(text)
    for finding in (result.blocked, result.ambiguous, *result.masked):
        if finding is not None:
            assert 0 <= finding.start < finding.end <= len(text)


def test_corpus_size() -> None:
    """The quality bar is measured on this corpus; keep it from shrinking by accident."""
    counts = {kind: len(_by_kind(kind)) for kind in ("mnemonic", "private_key", "password", "card_number",
                                                     "my_number", "bank_account")}
    assert counts["mnemonic"] >= 150
    assert min(counts.values()) >= 14
    assert len(corpus.ORDINARY) >= 150
    assert len(corpus.SOLICITATIONS) >= 20 and len(corpus.OPERATOR_ORDINARY) >= 30


# The published BIP-39 test vectors: heavily repeated words, valid checksums, real (public) wallets.
@pytest.mark.parametrize("phrase", [
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "legal winner thank year wave sausage worth useful legal winner thank yellow",
    "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
    "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    "ウォレット: abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    "あいこくしん　あいこくしん　あいこくしん　あいこくしん　あいこくしん　あいこくしん　"
    "あいこくしん　あいこくしん　あいこくしん　あいこくしん　あいこくしん　あおぞら",
])
def test_test_vector_phrases_are_refused(phrase: str) -> None:
    result = inspect(phrase)
    assert result.blocked is not None and result.blocked.kind == "mnemonic"
