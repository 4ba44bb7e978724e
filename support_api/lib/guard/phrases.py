"""Secrets given in words: passwords, PINs, 2FA codes and API secrets; and an operator asking
for them.

A password is found only when a value is actually given. "I forgot my password", "パスワー
ドを忘れました" and "how do I reset my password?" name the thing and give nothing. What
counts as given, after a password word ("パスワード", "password", "pw", "passcode"…):
- in quotes, or after ":" / "=" with a digit or symbol in it: any ASCII value of 4+
  characters that is not a state word ("reset", "expired", "incorrect"… in `_NOT_VALUES`),
  an e-mail address, a URL or a mask ("********");
- after "は/が/を/も", "is/was" or nothing: a value with a digit or a symbol in it, not an
  error code (E1042) or a version (2.3.1);
- an unquoted plain word, after any of these, only where it closes the statement ("password:
  sunshine", "my password is sunshine.", "パスワードはabcdefghです"): "password: check the
  screenshot" is prose.
- before the word: a quoted value, or one with a digit or symbol, followed by "is/as my
  password" or "がパスワード" / "というパスワード".
- a PIN / 暗証番号: 4-8 digits right after the word (a separator word or mark between is
  allowed); "暗証番号は4桁" gives a length, not a PIN.
- a 2FA code (2FA, 認証コード, ワンタイムパスワード, verification code, authenticator…):
  6-8 digits (or "123 456") within `_CODE_GAP` characters of the word, in the same clause,
  with no digit between. 2FA codes are treated as passwords: a fresh one opens the account.
- CVV / security code: 3-4 digits after the word (card data an operator never needs).
- an API secret or key: a 16+ character token with a digit or mixed case after the word.
Digits followed by a unit (円, BTC, 桁, 文字, 年, 件…) are an amount, a length or a date,
never a value, and an 8-digit date (20240523) is never a 2FA code.

An operator solicits when a sentence asks the user to disclose a recovery phrase, private
key, password, PIN or 2FA code: a disclosure verb ("教えて", "お送りください", "tell me",
"send us", "what's your") bound to the thing. Entering something in the app is not
disclosing it: "入力" / "enter" / "type" count only with a here-in-the-chat word. Warnings
are not requests: an English request whose clause holds "never", "not", "n't", "no one",
"if anyone"… or whose sentence says scam/phishing/詐欺, and a Japanese verb followed in its
sentence by a negation ("送らないで", "お伺いすることはありません"; a polite "〜ませんか"
is still a request), or preceded by 絶対/決して, is a warning.

Speed: keyword patterns run on the lower-cased view (`_core.lower`) without IGNORECASE and
with every alternative starting with a literal, which lets `re` skip ahead by first
character; word boundaries are checked after a match (`_core.bounded`) rather than by a leading
look-behind, which would disable that. Families whose literal needles are absent are
skipped outright.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from support_api.lib.guard._core import Finding, bounded, clause_after, clause_before

_CODE_GAP = 16
_SENTENCE_REACH = 200

# --- values ----------------------------------------------------------------------------
# Keyword patterns match the lower-cased view; value patterns match the view itself.

_PASSWORD_WORDS = re.compile(
    r"ログインパスワード|パスワード|パスコード|パスフレーズ|password|passwd|passcode|passphrase|pwd|pw"
)
_PIN_WORDS = re.compile(r"取引暗証番号|暗証番号|pin\s?(?:コード|番号|code|number)|ピンコード|ピン番号|pin")
# The short Latin words start a word: "2fa" inside a hex identifier ("…92fa-982177…", a
# random client_msg_id one time in ~3,000) is not a 2FA code (found by CI, issue 16).
_CODE_WORDS = re.compile(
    r"(?<![a-z0-9])(?:2fa|mfa|totp|otp)|二段階認証|2段階認証|二要素認証|2要素認証|認証コード|確認コード|承認コード"
    r"|ワンタイムパスワード|ワンタイムコード|セキュリティコード|smsコード|バックアップコード"
    r"|one[\s-]?time\s?(?:pass(?:word|code)?|code)|verification\s+code|authenticator|authentication\s+code"
    r"|auth\s+code|security\s+code|sms\s+code|two[\s-]factor|backup\s+code|6[\s-]digit\s+code"
)
_CVV_WORDS = re.compile(r"cvv2|cvv|cvc2|cvc|セキュリティコード|security\s+code")
_API_WORDS = re.compile(
    r"apiシークレットキー|apiシークレット|api\s?secret\s?key|api\s?secret|apiキー|api\s?key|シークレットキー"
    r"|secret\s?key|client\s+secret|アクセスキー|access\s+key|secret"
)
# "abc123 is my password", "「tanaka1985」というパスワード": the value comes first.
_NAMED_AFTER_WORDS = re.compile(
    r"is[ \t]+(?:my|the|our)[ \t]+|as[ \t]+(?:my|the|our)[ \t]+|was[ \t]+(?:my|the|our)[ \t]+|が|は|という|って"
)
_NAMED_AFTER_TAIL = re.compile(r"(?:password|passcode|pw|pin)(?![a-z])|[ \t]*(?:ログイン)?パスワード")
_VALUE_BEFORE = re.compile(
    r"(?:[「『\"'“‘](?P<quoted>[!-~]{4,64}?)[」』\"'”’]|(?<![!-~])(?P<bare>[!-~]{4,64}))[ \t]*\Z"
)

_SEPARATOR = re.compile(
    r"(?i)[ \t]*(?P<word>は|が|を|も|(?<![a-z])(?:is|was)(?![a-z]))?[ \t]*(?P<mark>[:=])?[ \t]*"
    r"(?P<quote>[「『\"'“‘`])?[ \t]*"
)
_VALUE = re.compile(r"[!-~]{1,128}")
_CLOSING_QUOTES = "」』\"'”’`"
_LEADING = "([{<"
_TRAILING = ".,;:?)]}>"  # not "!": passwords end in "!" more often than sentences do
_NOT_VALUES = frozenset("""
reset forgot forgotten forget change changed changing incorrect wrong invalid expired
required needed mandatory none null n/a na unknown same correct right empty blank missing
policy policies requirement requirements rule rules hint length strength field manager
lost locked blocked rejected ok okay fine weak strong short long new old different saved
stored secure safe not never please here below above protected reused compromised leaked
stolen hacked update updated recovery twice again still also only just
""".split())
_EMAIL_OR_URL = re.compile(r"(?i)^[^@\s]+@[^@\s]+\.[a-z]{2,}$|://|^www\.|\.(?:com|jp|net|org|io)(?:/|$)")
_ERROR_OR_VERSION = re.compile(r"^(?:[A-Z]{1,4}[-_]?[0-9]{2,5}|[vV]?[0-9]+(?:\.[0-9]+)+)$")
_UNIT_AFTER = re.compile(
    r"(?i)[ \t]*(?:円|yen|jpy|usd|btc|eth|xrp|usdt|sat|年|月|日|時|分|秒|件|回|個|万|億|%|桁|文字|歳"
    r"|digits?\b|characters?\b|chars?\b|times?\b|days?\b|hours?\b|minutes?\b|years?\b)"
)
_WORDLIKE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_MASKED = re.compile(r"[*•●○・xX_.\-]+")  # "password: ********" shows no password
_JA_STATEMENT_END = re.compile(r"[ \t]*(?:です|でした|だ|。|！|!|、|$|\n)")
_EN_STATEMENT_END = re.compile(r"[ \t]*(?:[.!]|$|\n)")
_DATE8 = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{16,128}")

_PIN_VALUE = re.compile(
    r"(?i)[ \t]*(?:は|が|を|も|(?<![a-z])(?:is|was)(?![a-z]))?[ \t]*[:=]?[ \t]*[「『\"'“‘`]?[ \t]*"
    r"(?P<value>[0-9]{4,8})(?![0-9])"
)
_CVV_VALUE = re.compile(
    r"(?i)[ \t]*(?:は|が|(?<![a-z])is(?![a-z]))?[ \t]*[:=]?[ \t]*(?P<value>[0-9]{3,4})(?![0-9])"
)
_CODE_VALUE = re.compile(
    rf"(?P<gap>[^\n。.!?！？0-9、,]{{0,{_CODE_GAP}}}?)(?P<value>[0-9]{{6,8}}|[0-9]{{3}}[ -][0-9]{{3}})(?![0-9A-Za-z]|[ -][0-9])"
)  # glued to Latin letters after it ("2fa385693ca0" in a hex id), digits are part of a token, not a code
_CODE_GAP_STOP = re.compile(
    r"(?i)注文|order|(?<![a-z])id(?![a-z])|エラー|error|番号|#|(?<![a-z])no\.|request|ticket|case|申請|問い?合わ?せ|受付"
)


def _words(pattern: re.Pattern[str], lowered: str, not_before: str = "") -> Iterator[re.Match[str]]:
    """Matches of a keyword pattern that are whole words (see `bounded`)."""
    for match in pattern.finditer(lowered):
        start = match.start()
        if bounded(lowered, start, match.end()) and not (start and lowered[start - 1] in not_before):
            yield match


def _is_amount_or_length(view: str, end: int) -> bool:
    if _UNIT_AFTER.match(view, end):
        return True
    return view[end:end + 1] in (".", ",") and view[end + 1:end + 2].isdigit()


def _password_values(view: str, lowered: str) -> Iterator[Finding]:
    for word in _words(_PASSWORD_WORDS, lowered, not_before="/._-"):
        keyword = word.group()
        if keyword == "パスワード" and lowered.endswith("ワンタイム", 0, word.start()):
            continue  # a one-time password is a 2FA code: `_CODE_WORDS`
        separator = _SEPARATOR.match(view, word.end())
        assert separator is not None  # every part is optional
        if keyword.isascii() and not (separator.group("word") or separator.group("mark")) and (
            not separator.group()[:1].isspace()
        ):
            continue  # an English word glued to what follows ("pwd`:/data", "pw@host") names no value
        value = _VALUE.match(view, separator.end())
        if value is None:
            continue
        text, start = value.group(), value.start()
        if separator.group("quote"):
            cut = min((text.find(q) for q in _CLOSING_QUOTES if q in text), default=len(text))
            text = text[:cut]
        stripped = text.lstrip(_LEADING)
        start += len(text) - len(stripped)
        text = stripped.rstrip(_TRAILING)
        end = start + len(text)
        if _given(view, keyword, separator, text, end):
            yield Finding("password", start, end)


def _given(view: str, keyword: str, separator: re.Match[str], value: str, end: int) -> bool:
    if len(value) < 4 or value.lower() in _NOT_VALUES or _EMAIL_OR_URL.search(value) or _MASKED.fullmatch(value):
        return False
    if _is_amount_or_length(view, end):
        return False
    strong = bool(separator.group("mark") or separator.group("quote"))
    if _WORDLIKE.fullmatch(value):
        # A plain word is a password only where it closes the statement ("password: sunshine",
        # "my password is sunshine.", "パスワードはsunshineです"); "password: check the
        # screenshot" and "my password is incorrect" are prose.
        if separator.group("quote"):
            return True
        if not keyword.isascii():
            return bool(_JA_STATEMENT_END.match(view, end))
        said_is = (separator.group("word") or "").lower() in ("is", "was")
        if not (strong or said_is) or value.lower().endswith(("ing", "ed", "ly")):
            return False
        return bool(_EN_STATEMENT_END.match(view, end))
    # A digit or a symbol in it.
    return strong or not _ERROR_OR_VERSION.match(value)


def _values_named_after(view: str, lowered: str) -> Iterator[Finding]:
    for word in _NAMED_AFTER_WORDS.finditer(lowered):
        if not _NAMED_AFTER_TAIL.match(lowered, word.end()):
            continue
        if word.group()[0] in "iaw" and not bounded(lowered, word.start(), word.start() + 2 + (word.group()[0] == "w")):
            continue  # "this is my password": "is" must be a word
        window_start = max(0, word.start() - 70)
        value = _VALUE_BEFORE.search(view, window_start, word.start())
        if value is None:
            continue
        quoted = value.group("quoted")
        text = quoted if quoted is not None else value.group("bare")
        start = value.start("quoted") if quoted is not None else value.start("bare")
        if quoted is None and start == window_start and start > 0 and "!" <= view[start - 1] <= "~":
            continue  # the window cut into a longer run
        if len(text) < 4 or text.lower() in _NOT_VALUES or _EMAIL_OR_URL.search(text):
            continue
        if quoted is None and (_ERROR_OR_VERSION.match(text) or text.isalpha()):
            continue
        yield Finding("password", start, start + len(text))


def _digit_values(view: str, lowered: str, words: re.Pattern[str], value_pattern: re.Pattern[str]) -> Iterator[
        Finding]:
    for word in _words(words, lowered):
        value = value_pattern.match(view, word.end())
        if value is None:
            continue
        start, end = value.span("value")
        if _is_amount_or_length(view, end) or view[start - 1:start] in ("¥", "$", "￥"):
            continue
        if "gap" in value.groupdict() and _CODE_GAP_STOP.search(value.group("gap")):
            continue
        if len(value.group("value")) == 8 and _DATE8.fullmatch(value.group("value")):
            continue
        yield Finding("password", start, end)


def _api_secrets(view: str, lowered: str) -> Iterator[Finding]:
    for word in _words(_API_WORDS, lowered):
        separator = _SEPARATOR.match(view, word.end())
        assert separator is not None
        if not (separator.group("word") or separator.group("mark") or separator.group("quote")):
            continue
        token = _SECRET_TOKEN.match(view, separator.end())
        if token is None or token.end() < len(view) and view[token.end()].isalnum():
            continue
        text = token.group()
        if any(char.isdigit() for char in text) or (text.lower() != text and text.upper() != text):
            yield Finding("password", token.start(), token.end())


# Literal needles, one of which every match of the family's word pattern contains: a family
# whose needles are absent (most families in most messages) is skipped with a few substring
# tests.
_PASSWORD_NEEDLES = ("パスワード", "パスコード", "パスフレーズ", "pass", "pw")
_PIN_NEEDLES = ("暗証", "pin", "ピン")
_CODE_NEEDLES = (
    "2fa", "mfa", "otp", "段階認証", "要素認証", "コード", "ワンタイム", "onetime", "one-time", "one time",
    "verification", "auth", "security", "sms", "factor", "backup", "digit",
)
_CVV_NEEDLES = ("cvv", "cvc", "セキュリティコード", "security")
_API_NEEDLES = ("api", "シークレット", "secret", "アクセスキー", "access")


def _any_in(needles: tuple[str, ...], lowered: str) -> bool:
    return any(needle in lowered for needle in needles)


def find_given(view: str, lowered: str) -> list[Finding]:
    """Passwords, PINs, 2FA codes, CVVs and API secrets given in `view` (`lowered` is
    `_core.lower(view)`)."""
    findings: list[Finding] = []
    if _any_in(_PASSWORD_NEEDLES, lowered):
        findings.extend(_password_values(view, lowered))
        findings.extend(_values_named_after(view, lowered))
    if _any_in(_PIN_NEEDLES, lowered):
        findings.extend(_digit_values(view, lowered, _PIN_WORDS, _PIN_VALUE))
    if _any_in(_CODE_NEEDLES, lowered):
        findings.extend(_digit_values(view, lowered, _CODE_WORDS, _CODE_VALUE))
    if _any_in(_CVV_NEEDLES, lowered):
        findings.extend(_digit_values(view, lowered, _CVV_WORDS, _CVV_VALUE))
    if _any_in(_API_NEEDLES, lowered):
        findings.extend(_api_secrets(view, lowered))
    return findings


# --- operator solicitation --------------------------------------------------------------
# Both patterns match the lower-cased view.

_JA_THING = (
    r"(?:シード・?フレーズ|シードワード|リカバリーフレーズ|リカバリフレーズ|リカバリー・フレーズ|復元フレーズ"
    r"|復元用?の?(?:フレーズ|単語|ワード)|バックアップフレーズ|ニーモニック(?:フレーズ)?"
    r"|12(?:個の|の|語の)?(?:英?単語|ワード)|24(?:個の|の|語の)?(?:英?単語|ワード)|十二(?:個の|の)?単語"
    r"|二十四(?:個の|の)?単語|12語|24語"
    r"|秘密鍵|秘密キー|プライベート・?キー|ワンタイムパスワード|ワンタイムコード|パスワード|パスコード|パスフレーズ"
    r"|暗証番号|pin(?:コード|番号)?|ピンコード|2段階認証(?:の|用の?)?コード|二段階認証(?:の|用の?)?コード"
    r"|2faコード|認証コード|確認コード|セキュリティコード|apiシークレット|シークレットキー|apiキー|ログイン情報)"
)
_JA_VERB = (
    r"(?P<ask>お伺い|伺い|伺って|お聞き|聞いて|お尋ね|尋ねて|お聞かせ|聞かせて|確認させて)"
    r"|(?P<te>教えて|おしえて|送って|送信して|送付して|伝えて|知らせて|提供して|共有して|見せて|答えて|連絡して|返信して)"
    r"|(?P<honorific>お教え|お送り|お伝え|お知らせ|ご提供|ご共有|お見せ|お答え|ご連絡|ご返信|ご送付|ご送信|ご教示)"
    r"|(?P<entry>ご記入|記入|ご入力|入力|貼り付け|貼って|書いて|書き込|お書き)"
    r"|(?P<bare>ください|下さい|お願い|頂戴|ちょうだい|何ですか|なんですか|何でしょう)"
)
_JA_SOLICIT = re.compile(
    rf"{_JA_THING}(?:\s*[（(][^）)\n]{{0,20}}[）)])?"
    # Bounded repetitions: an unbounded list of things would backtrack quadratically.
    rf"(?:\s*(?:と|や|、|・|および|及び|または|又は|か|もしくは)\s*(?:お客様の|ご自身の)?{_JA_THING}){{0,4}}"
    r"\s*(?:を|は|も|のみ|だけ)?\s*"
    r"(?:(?:こちらに|こちらまで|ここに|このチャットに|このチャットで|チャット欄に|チャットに|チャットで|本チャットに"
    r"|当方に|当方まで|弊社に|弊社まで|私に|私宛に|担当者に|すぐに|至急|今すぐ|正確に|念のため|全て|すべて|全部"
    r"|下記に|以下に|返信で|メッセージで)\s*){0,3}"
    rf"(?:{_JA_VERB})"
)
_JA_REQUEST_ENDING = re.compile(r".{0,4}?(?:ください|下さい|くださ|いただ|頂|願|ちょうだい|頂戴)")
_JA_NEGATION_AFTER = re.compile(r"(?:ない|ません)(?!か|でしょうか|ですか)|なく|ず[にとも、。]|禁止|厳禁|控え|やめ|必要はござい")
_JA_NEGATION_BEFORE = re.compile(r"絶対|決して|一切")
_JA_WARNING = re.compile(r"詐欺|なりすまし|偽")
_CHAT_PLACE_JA = re.compile(r"こちら|ここ|チャット|本メッセージ|返信|下記|以下")

_EN_THING = (
    r"(?:(?:seed|recovery|secret(?:\s+recovery)?|backup|mnemonic|wallet|restore)\s+(?:phrase|words?|sentence)"
    r"|mnemonic(?:\s+phrase)?|(?:12|24|15|18|twelve|twenty[\s-]four)[\s-]words?(?:\s+(?:phrase|list|seed))?"
    r"|private\s+keys?|secret\s+keys?|priv\s?keys?|keystore(?:\s+file)?"
    r"|passwords?|passcodes?|pass\s?phrases?|(?<![a-z])pin(?:\s+(?:code|number))?(?![a-z])"
    r"|(?:2fa|two[\s-]factor|mfa|otp|verification|authenticator|authentication|auth|security|sms|one[\s-]time"
    r"|6[\s-]digit|login|google\s+authenticator)\s+codes?|one[\s-]time\s+passwords?|(?<![a-z])otp(?![a-z])"
    r"|api\s+(?:secret|key)s?|(?:login\s+)?credentials|login\s+details)"
)
_EN_VERB = (
    r"tell|send|give|share|provide|dm|email|e-mail|text|reply\s+with|respond\s+with|post|read\s+out|forward"
    r"|submit|disclose|reveal|let\s+me\s+know|let\s+us\s+know|what's|what\s+is|what\s+are|ask\s+for|ask\s+you\s+for"
    r"|enter|type|input|paste|write|need|require"
)
_EN_ENTRY_VERBS = frozenset({"enter", "type", "input", "paste", "write"})
_EN_NEED_VERBS = frozenset({"need", "require"})
_EN_FILLER_STOP = (
    r"reset|chang|updat|enabl|disabl|set\s?up|creat|protect|keep|stor|secur|forg[oe]t|receiv|whether|if\b|how\b"
    r"|where\b|safe|sure|down\b|lost|check"
)
_EN_SOLICIT = re.compile(
    rf"(?:{_EN_VERB})(?![a-z])(?P<filler>(?:(?!{_EN_FILLER_STOP})[^.!?\n]){{0,40}}?)(?<![a-z]){_EN_THING}(?![a-z])"
    r"(?!\s*(?:reset|change|recovery|manager|field|screen|page|link|settings?|polic|requirement|rule|strength|hint"
    r"|length|expir|update|app\b|error|feature|option|protection))"
)
_EN_VERB_AT = re.compile(rf"(?:{_EN_VERB})(?![a-z])")
_EN_NEGATION = re.compile(
    r"(?<![a-z])(?:never|not|no\s+one|nobody|avoid|refrain|beware|unless|no\s+(?:legitimate|staff|employee|one))"
    r"(?![a-z])|n't|\bif\s+(?:anyone|someone|somebody)|anyone\s+(?:who\s+)?asks|under\s+no\s+circumstances"
)
_EN_WARNING = re.compile(r"scam|phish|fraud|impersonat")
_EN_CLAUSE_BREAK = re.compile(r"[,;:—]|\s-\s|\bbut\b")
_CHAT_PLACE_EN = re.compile(
    r"\bhere\b|in\s+(?:this|the)\s+chat|below|in\s+your\s+reply|to\s+(?:me|us)\b|this\s+(?:conversation|thread|window)"
)
_YOUR = re.compile(r"\b(?:your|ur|the)\b")


def _sentence(lowered: str, start: int, end: int) -> tuple[str, str]:
    """The text of the sentence before `start` and after `end`."""
    _, before = clause_before(lowered, start, _SENTENCE_REACH)
    return before, clause_after(lowered, end, _SENTENCE_REACH)


def _japanese_requests(lowered: str) -> Iterator[Finding]:
    for match in _JA_SOLICIT.finditer(lowered):
        before, after = _sentence(lowered, match.start(), match.end())
        if match.group("honorific") or match.group("entry"):
            if not _JA_REQUEST_ENDING.match(after):
                continue
        if match.group("entry") and not _CHAT_PLACE_JA.search(before + match.group() + after):
            continue
        if _JA_NEGATION_AFTER.search(after) or _JA_NEGATION_BEFORE.search(before):
            continue
        if _JA_WARNING.search(before + after):
            continue
        yield Finding("solicitation", match.start(), match.end())


def _english_requests(lowered: str) -> Iterator[Finding]:
    for match in _EN_SOLICIT.finditer(lowered):
        verb_match = _EN_VERB_AT.match(lowered, match.start())
        verb = verb_match.group() if verb_match else ""
        if not bounded(lowered, match.start(), match.start() + len(verb)):
            continue  # "sEND", "reSHARE"
        before, after = _sentence(lowered, match.start(), match.end())
        sentence = before + match.group() + after
        if _EN_WARNING.search(sentence):
            continue
        clause_start = max((m.end() for m in _EN_CLAUSE_BREAK.finditer(before)), default=0)
        clause_end = next((m.start() for m in _EN_CLAUSE_BREAK.finditer(after)), len(after))
        clause = before[clause_start:] + match.group() + after[:clause_end]
        if _EN_NEGATION.search(clause):
            continue
        if verb in _EN_ENTRY_VERBS and not _CHAT_PLACE_EN.search(sentence):
            continue
        if verb in _EN_NEED_VERBS and not _YOUR.search(match.group("filler")):
            continue
        yield Finding("solicitation", match.start(), match.end())


_JA_THING_NEEDLES = (
    "フレーズ", "語", "ワード", "ニーモニック", "秘密", "キー", "パス", "暗証", "pin", "ピン", "コード", "ログイン情報",
)
_EN_THING_NEEDLES = ("phrase", "word", "mnemonic", "key", "pass", "pin", "code", "otp", "secret", "credential", "login")


def find_solicitations(lowered: str) -> list[Finding]:
    """Operator requests for a secret in `lowered` (`_core.lower` of the view)."""
    findings: list[Finding] = []
    if _any_in(_JA_THING_NEEDLES, lowered):
        findings.extend(_japanese_requests(lowered))
    if _any_in(_EN_THING_NEEDLES, lowered):
        findings.extend(_english_requests(lowered))
    return findings


# --- one-time codes --------------------------------------------------------------------------
# "Send me the code you just received", "SMSで届いたコードを教えてください": an operator asking
# for a one-time code names it by where it came from (received, texted, the authenticator) as
# often as by its name, which `_EN_THING` / `_JA_THING` need. So in one sentence: a code word,
# a word for where it came from, and a disclosure verb; minus warnings and negations (as
# above) and codes that are something else (error, order, reference, destination tag…).
_OTP_CODE = re.compile(r"code|(?<![a-z])number|digits|(?<![a-z])otp|コード|番号|数字|桁")
_OTP_SOURCE = re.compile(
    r"receiv|(?<![a-z])got(?![a-z])|sent\s+(?:to\s+)?you|we\s+(?:just\s+)?sent|texted|(?<![a-z])sms|text\s+message"
    r"|authenticator|2fa|one[\s-]?time|verification|(?:on|to)\s+your\s+(?:phone|screen|device|number)|from\s+your\s+(?:phone|app)"
    r"|届い|届く|受信|送信され|送られ|sms|ショートメール|認証アプリ|オーセンティケーター|表示されて|ワンタイム|認証"
)
_OTP_DISCLOSE = re.compile(
    r"(?<![a-z])(?:tell|send|give|share|provide|read|reply|forward|post|dm|what's|what\s+is|what\s+was|let\s+(?:me|us)\s+know)"
    r"(?![a-z])|教え|おしえ|送って|お送り|送信して|伝え|お伝え|知らせ|お知らせ|共有|返信|お聞かせ|ご提供|読み上げ|見せ"
)
_OTP_OTHER_CODE = re.compile(
    r"(?:error|エラー|order|注文|reference|参照|ticket|tracking|追跡|transaction|取引|promo|referral|紹介|zip|postal|郵便"
    r"|country|国|qr|invite|招待|branch|支店|bank|銀行|swift|tag|タグ|memo|destination|phone|電話|account|口座|会員"
    r"|case|ケース|問い合わせ|お問い合わせ|受付)[\s-]*(?:code|number|コード|番号|no\.?)"
)
_OTP_SENTENCE_END = re.compile(r"[!?。！？\n]|\.(?![0-9])")


def _otp_requests(lowered: str) -> Iterator[Finding]:
    if not (_OTP_SOURCE.search(lowered) and _OTP_DISCLOSE.search(lowered)):
        return  # each part somewhere in the text first: most texts lack one
    position = 0
    for sentence in _OTP_SENTENCE_END.split(lowered):
        start, position = position, position + len(sentence) + 1
        if not (_OTP_CODE.search(sentence) and _OTP_SOURCE.search(sentence)):
            continue
        verb = _OTP_DISCLOSE.search(sentence)
        if verb is None or _OTP_OTHER_CODE.search(sentence):
            continue
        if _EN_NEGATION.search(sentence) or _EN_WARNING.search(sentence) or _JA_WARNING.search(sentence):
            continue
        if _JA_NEGATION_AFTER.search(sentence, verb.end()) or _JA_NEGATION_BEFORE.search(sentence):
            continue
        yield Finding("solicitation", start, start + len(sentence))


def find_solicitations_with_codes(lowered: str) -> list[Finding]:
    """`find_solicitations` plus requests for a one-time code named by where it came from."""
    findings = find_solicitations(lowered)
    if not findings and _OTP_CODE.search(lowered):
        findings.extend(_otp_requests(lowered))
    return findings
