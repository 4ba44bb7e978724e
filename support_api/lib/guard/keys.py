"""Private keys: WIF, extended private keys, XRP secrets, PEM blocks and 64-hex keys.

Base58 strings are decoded with the `base58` package and must carry a valid Base58Check
checksum and the version of a private key: a random base58 string of the right length is
not a key. Two near misses are kept anyway, since a mistyped key is still a key:
- an `xprv`-shaped string (111/112 base58 characters after a known prefix) whose checksum
  fails is `possible_private_key`: nothing public looks like that, but the user may have
  pasted something else, so the client asks;
- a WIF-shaped string whose checksum fails is a `private_key` only when the clause calls it
  a key.

A 64-hex string (with or without 0x) is a private key, a transaction id, or something else.
Its clause decides (up to `CONTEXT_BEFORE` characters before, `CONTEXT_AFTER` after, never
across a line or sentence end): the nearest key word ("private key", "秘密鍵", "seed", …)
makes it `private_key`; the nearest transaction word clears it ("tx", "txid", "hash",
"ハッシュ", "transaction", explorer links; deposit and withdrawal words too, since people
say "入金の…" of a transaction; and file-checksum words, "sha256", "checksum"); with
neither it is `possible_private_key`. A 64-hex string inside a URL is a link's path or
token, never flagged. On a tie the key word wins: refusing a tx hash costs
a retype, letting a key through costs the funds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

import base58

from support_api.lib.guard._core import Finding, nearest

CONTEXT_BEFORE = 40
CONTEXT_AFTER = 30

# Every key below is one run of ASCII letters and digits: one scan finds the runs long
# enough to be any of them, and each run is then matched whole against the key shapes.
_RUN = re.compile(r"[0-9A-Za-z]{29,}")
_B58 = "1-9A-HJ-NP-Za-km-z"
_WIF = re.compile(rf"[5KL9c][{_B58}]{{50,51}}")
_WIF_VERSIONS = {0x80, 0xEF}
_EXTENDED = re.compile(rf"[xyztuvXYZTUV]prv[{_B58}]{{107,108}}")
# BIP-32 / SLIP-132 private versions: xprv yprv zprv Yprv Zprv tprv uprv vprv Uprv Vprv.
_EXTENDED_VERSIONS = {
    bytes.fromhex(version) for version in (
        "0488ade4", "049d7878", "04b2430c", "0295b005", "02aa7a99",
        "04358394", "044a4e28", "045f18bc", "024285b5", "02575048",
    )
}
# XRP family seeds: "s" + base58 (Ripple alphabet) of version 0x21 + 16 bytes (secp256k1),
# or 0x01e14b + 16 bytes (ed25519, the "sEd…" form).
_RIPPLE = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz"
_XRP_SEED = re.compile(rf"s[{_RIPPLE}]{{28,30}}")
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----")
_HEX64 = re.compile(r"(?:0[xX])?[0-9a-fA-F]{64}")

# ASCII words are bounded by ASCII letters only, so "秘密鍵key" and "送金tx" still count.
_KEY_WORDS = re.compile(
    r"(?i)priv(?:ate)?[\s_-]?key|privkey|secret|秘密|プライベート|(?<!公開)鍵|(?<!public )(?<![a-z])key(?![a-z])"
    r"|(?<![a-z])pk(?![a-z])|(?<![a-z])seed(?![a-z])|シード|ニーモニック|keystore|ciphertext|kdfparams"
)
_TX_WORDS = re.compile(
    r"(?i)(?<![a-z])txn?|transaction|トランザクション|hash|ハッシュ|取引ID|送金ID|block|ブロック|explorer"
    r"|scan(?![a-z])|mempool|入金|出金|送金|着金|deposit|withdraw|(?<![a-z])sent(?![a-z])|transfer|sha|checksum"
    r"|チェックサム|digest|ダイジェスト|md5"
)


def _b58check(candidate: str, alphabet: bytes = base58.BITCOIN_ALPHABET) -> bytes | None:
    try:
        return base58.b58decode_check(candidate, alphabet=alphabet)
    except ValueError:
        return None


def _is_wif(payload: bytes) -> bool:
    if not payload or payload[0] not in _WIF_VERSIONS:
        return False
    return len(payload) == 33 or (len(payload) == 34 and payload[33] == 0x01)


def _is_extended_private(payload: bytes) -> bool:
    # 4 version, 1 depth, 4 fingerprint, 4 child number, 32 chain code, 0x00 + 32 key bytes.
    return len(payload) == 78 and payload[:4] in _EXTENDED_VERSIONS and payload[45] == 0


def _is_xrp_seed(payload: bytes) -> bool:
    return (len(payload) == 17 and payload[0] == 0x21) or (len(payload) == 19 and payload[:3] == b"\x01\xe1\x4b")


def _nearest(view: str, start: int, end: int) -> str | None:
    """Which kind of word, "key" or "tx", is nearest to view[start:end] in its clause (None:
    neither); a tie goes to "key"."""
    index = nearest(view, start, end, (_KEY_WORDS, _TX_WORDS), CONTEXT_BEFORE, CONTEXT_AFTER)
    return None if index is None else ("key", "tx")[index]


def _in_url(view: str, start: int) -> bool:
    """True when the whitespace-delimited word ending at `start` is (part of) a URL."""
    prefix = view[max(0, start - 200):start]
    word = prefix[max(prefix.rfind(" "), prefix.rfind("\n"), prefix.rfind("\t")) + 1:]
    return "://" in word or word.startswith("www.")


def _key_in_run(view: str, start: int, end: int) -> str | None:
    """The kind of key view[start:end] (a whole run of letters and digits) is, if any."""
    run = view[start:end]
    if _HEX64.fullmatch(run):
        if _in_url(view, start):
            return None  # a link's token or path ("…/tx/0x…", "…?token=…"), not a pasted key
        context = _nearest(view, start, end)
        return "private_key" if context == "key" else "possible_private_key" if context is None else None
    if _WIF.fullmatch(run):
        payload = _b58check(run)
        if payload is not None:
            return "private_key" if _is_wif(payload) else None
        return "private_key" if _nearest(view, start, end) == "key" else None
    if _EXTENDED.fullmatch(run):
        payload = _b58check(run)
        if payload is None:
            return "possible_private_key"
        return "private_key" if _is_extended_private(payload) else None
    if _XRP_SEED.fullmatch(run):
        payload = _b58check(run, base58.RIPPLE_ALPHABET)
        return "private_key" if payload is not None and _is_xrp_seed(payload) else None
    return None


# A key typed in groups ("5Kb8 kLf9 zgWQ …", as printed on paper wallets) or pasted in pieces
# (two halves, one per message: services/safety.py joins consecutive messages with a space).
# A sequence of letter-digit chunks joined by one space or hyphen is tried, from each chunk
# on, as the concatenation of the chunks that follow: only a Base58Check-valid WIF or extended
# private key (certain) or a 64-hex with a key word in its clause counts, never a guess.
_CHUNKS = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{2,52}(?:[ \-][0-9A-Za-z]{2,52}){1,40}(?![0-9A-Za-z])")
_CHUNK = re.compile(r"[0-9A-Za-z]+")
_KEY_LENGTHS = frozenset({51, 52, 64, 66, 111, 112})


_HEX_CHUNK = re.compile(r"(?:0[xX])?[0-9a-fA-F]+")


def _could_start(chunk: str) -> bool:
    """The first chunk of a WIF (5, K, L; testnet 9, c), an extended key (xprv…) or a hex key."""
    return chunk[0] in "5KL9c" or chunk[1:4] == "prv" or bool(_HEX_CHUNK.fullmatch(chunk))


def _keylike(chunk: str) -> bool:
    return any(char.isdigit() or char.isupper() for char in chunk[1:]) or chunk[0].isdigit()


def _grouped(view: str) -> Iterator[Finding]:
    for match in _CHUNKS.finditer(view):
        chunks = list(_CHUNK.finditer(match.group()))
        base = match.start()
        for first in range(len(chunks)):
            if not _could_start(chunks[first].group()):
                continue
            joined = ""
            keylike = 0
            for last in range(first, len(chunks)):
                joined += chunks[last].group()
                keylike += _keylike(chunks[last].group())
                count = last - first + 1
                # Words of prose are rarely key-like (a digit, or a capital after the first
                # letter); a key's chunks mostly are: prose gives up after four words.
                if len(joined) > 112 or (count >= 4 and keylike * 4 < count):
                    break
                if last == first or len(joined) not in _KEY_LENGTHS or keylike * 2 < count:
                    continue
                start, end = base + chunks[first].start(), base + chunks[last].end()
                kind = _joined_key(view, joined, start, end)
                if kind is not None:
                    yield Finding(kind, start, end)
                    break


def _joined_key(view: str, joined: str, start: int, end: int) -> str | None:
    if _HEX64.fullmatch(joined):
        return "private_key" if not _in_url(view, start) and _nearest(view, start, end) == "key" else None
    if _WIF.fullmatch(joined):
        payload = _b58check(joined)
        return "private_key" if payload is not None and _is_wif(payload) else None
    if _EXTENDED.fullmatch(joined):
        payload = _b58check(joined)
        return "private_key" if payload is not None and _is_extended_private(payload) else None
    return None


def find(view: str) -> list[Finding]:
    findings: list[Finding] = list(_grouped(view))
    if "-----BEGIN" in view or "PuTTY" in view:
        ends = [match.end() for match in _PEM_END.finditer(view)]
        for match in _PEM_BEGIN.finditer(view):
            # The first END after this BEGIN; with none, the key runs to the end of the text.
            later = bisect.bisect_left(ends, match.end())
            findings.append(Finding("private_key", match.start(), ends[later] if later < len(ends) else len(view)))
    for match in _RUN.finditer(view):
        kind = _key_in_run(view, match.start(), match.end())
        if kind is not None:
            findings.append(Finding(kind, match.start(), match.end()))
    return findings


_FRAGMENT = re.compile(rf"[{_B58}]{{8,}}|[0-9a-fA-F]{{16,}}")


def has_fragment(view: str) -> bool:
    """True when `view` holds a run that could be part of a key: 8+ base58 characters with a
    digit or mixed case, or 16+ hex digits."""
    for match in _FRAGMENT.finditer(view):
        run = match.group()
        if any(char.isdigit() for char in run) or (run.lower() != run and run.upper() != run):
            return True
    return False
