"""The sensitive-content guard's corpus: real secrets made here, and ordinary support messages.

Secrets are generated, never pasted: mnemonics with trezor's `mnemonic` (valid checksums,
both word lists, every separator people use, and with typos), WIF and xprv keys from
random bytes (xprv by BIP-32 master key derivation), PEM blocks with `cryptography`, cards
and My Numbers with their check digits computed by this file's own code (not the guard's).
Everything is deterministic (one seeded RNG), so a failing case names the same text on
every run.

`ORDINARY` holds support messages that must produce nothing at all: no refusal, no
question, no mask. They are written to be hard: dense in BIP-39 words, full of order ids,
amounts, dates, phone numbers, addresses and tx hashes, and some 12-digit order ids pass
the My Number check digit and some 16-digit ones pass Luhn with a card issuer's prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import unicodedata
from dataclasses import dataclass

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from mnemonic import Mnemonic

RNG = random.Random(20240523)


@dataclass(frozen=True)
class Case:
    """One text and what the guard must say about it (`secret` must lie inside the span)."""

    id: str
    text: str
    kind: str
    secret: str = ""


def _hex(n: int) -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(n))


# --- mnemonics -------------------------------------------------------------------------

_LANGUAGES = {"en": Mnemonic("english"), "ja": Mnemonic("japanese")}
_STRENGTHS = {12: 128, 15: 160, 18: 192, 21: 224, 24: 256}


def _phrase(language: str, words: int) -> list[str]:
    m = _LANGUAGES[language]
    entropy = bytes(RNG.getrandbits(8) for _ in range(_STRENGTHS[words] // 8))
    phrase = m.to_mnemonic(entropy)
    assert m.check(phrase)
    # Typed Japanese is composed (NFC); the list file is decomposed.
    return [unicodedata.normalize("NFC", w) for w in unicodedata.normalize("NFKD", phrase).split(" ")]


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_FULLWIDTH_LETTERS = str.maketrans("abcdefghijklmnopqrstuvwxyz", "".join(chr(0xFF41 + i) for i in range(26)))
_CIRCLED = [chr(0x2460 + i) for i in range(20)] + [chr(0x3251 + i) for i in range(15)]

_SEPARATORS = {
    "space": lambda ws: " ".join(ws),
    "ideographic": lambda ws: "\u3000".join(ws),
    "newline": lambda ws: "\n".join(ws),
    "comma": lambda ws: ", ".join(ws),
    "comma_tight": lambda ws: ",".join(ws),
    "touten": lambda ws: "、".join(ws),
    "numbered_dot": lambda ws: " ".join(f"{i}. {w}" for i, w in enumerate(ws, 1)),
    "numbered_lines": lambda ws: "\n".join(f"{i}. {w}" for i, w in enumerate(ws, 1)),
    "paren_tight": lambda ws: " ".join(f"{i}){w}" for i, w in enumerate(ws, 1)),
    "paren_both": lambda ws: " ".join(f"({i}) {w}" for i, w in enumerate(ws, 1)),
    "circled": lambda ws: "".join(f"{_CIRCLED[i]}{w}" for i, w in enumerate(ws)),
    "colon": lambda ws: "\n".join(f"{i}: {w}" for i, w in enumerate(ws, 1)),
    "hash": lambda ws: " ".join(f"#{i} {w}" for i, w in enumerate(ws, 1)),
    "fullwidth_numbers": lambda ws: "\u3000".join(f"{str(i).translate(_FULLWIDTH)}．{w}" for i, w in enumerate(ws, 1)),
    "slash": lambda ws: " / ".join(ws),
    "tabs": lambda ws: "\t".join(ws),
    "ban": lambda ws: " ".join(f"{i}番 {w}" for i, w in enumerate(ws, 1)),
    "grid": lambda ws: "\n".join(" ".join(ws[i:i + 4]) for i in range(0, len(ws), 4)),
}

_WRAPPERS = {
    "en": [
        "{}",
        "Support told me to send my recovery phrase: {}",
        "here is my seed\n{}\nplease restore my wallet",
        "My 12 words are {} - is that right?",
    ],
    "ja": [
        "{}",
        "サポートの方に言われたのでシードフレーズを送ります：{}",
        "復元フレーズはこれです\n{}\nよろしくお願いします",
        "{} これで合っていますか？",
    ],
}


def _typo(word: str, language: str) -> str:
    """One edit: a substitution, deletion, insertion or transposition (NFKD for Japanese,
    so a lost voicing mark is one of them)."""
    letters = "abcdefghijklmnopqrstuvwxyz" if language == "en" else "あいうえおかきくけこさしすせそたちつてとなにぬねの"
    chars = list(unicodedata.normalize("NFKD", word))
    position = RNG.randrange(len(chars))
    edit = RNG.choice(["sub", "del", "ins", "swap"])
    if edit == "sub":
        chars[position] = RNG.choice([c for c in letters if c != chars[position]])
    elif edit == "del" and len(chars) > 3:
        del chars[position]
    elif edit == "swap" and position + 1 < len(chars) and chars[position] != chars[position + 1]:
        chars[position], chars[position + 1] = chars[position + 1], chars[position]
    else:
        chars.insert(position, RNG.choice(letters))
    return unicodedata.normalize("NFC", "".join(chars))


def _mnemonic_cases() -> list[Case]:
    cases: list[Case] = []
    for language in ("en", "ja"):
        for words in _STRENGTHS:
            for name, join in _SEPARATORS.items():
                if name == "circled" and words > len(_CIRCLED):
                    continue
                phrase = _phrase(language, words)
                wrapper = RNG.choice(_WRAPPERS[language])
                text = wrapper.format(join(phrase))
                cases.append(Case(f"mnemonic-{language}-{words}-{name}", text, "mnemonic", phrase[5]))
            for typos in (1, 2):
                for attempt in range(2):
                    phrase = _phrase(language, words)
                    long_enough = [i for i, w in enumerate(phrase) if len(unicodedata.normalize("NFKD", w)) >= 4]
                    for index in RNG.sample(long_enough, typos):
                        phrase[index] = _typo(phrase[index], language)
                    join = _SEPARATORS[RNG.choice(["space", "ideographic", "newline", "numbered_dot", "comma"])]
                    text = RNG.choice(_WRAPPERS[language]).format(join(phrase))
                    cases.append(Case(f"mnemonic-{language}-{words}-typo{typos}-{attempt}", text, "mnemonic"))
        # 12+ list words that fail the checksum: people mistype a word into another list word.
        wordlist = _LANGUAGES[language].wordlist
        for words in (12, 13, 24):
            phrase = [unicodedata.normalize("NFC", RNG.choice(wordlist)) for _ in range(words)]
            sep = " " if language == "en" else "\u3000"
            cases.append(Case(f"mnemonic-{language}-{words}-nochecksum", sep.join(phrase), "mnemonic"))
    en = _phrase("en", 12)
    cases += [
        Case("mnemonic-en-capitalised", " ".join(w.capitalize() for w in en), "mnemonic"),
        Case("mnemonic-en-uppercase", " ".join(w.upper() for w in en), "mnemonic"),
        Case("mnemonic-en-fullwidth", " ".join(w.translate(_FULLWIDTH_LETTERS) for w in en), "mnemonic"),
        Case("mnemonic-en-sentence-breaks", ". ".join(_phrase("en", 12)) + ".", "mnemonic"),
        Case("mnemonic-ja-nfkd", unicodedata.normalize("NFKD", "\u3000".join(_phrase("ja", 12))), "mnemonic"),
        Case("mnemonic-ja-ascii-space", " ".join(_phrase("ja", 24)), "mnemonic"),
        Case("mnemonic-ja-ime-kanji", "\u3000".join(_phrase("ja", 12)[:7] + ["愛国心"] + _phrase("ja", 12)[:4]),
             "mnemonic"),
        Case("mnemonic-en-one-wrong-word", " ".join(_phrase("en", 12)[:6] + ["xylqz"] + _phrase("en", 12)[:5]),
             "mnemonic"),
    ]
    return cases


# --- private keys ----------------------------------------------------------------------

def _wif(compressed: bool, testnet: bool) -> str:
    key = bytes(RNG.getrandbits(8) for _ in range(32))
    payload = bytes([0xEF if testnet else 0x80]) + key + (b"\x01" if compressed else b"")
    return base58.b58encode_check(payload).decode()


_XPRV_VERSIONS = {
    "xprv": "0488ade4", "yprv": "049d7878", "zprv": "04b2430c",
    "tprv": "04358394", "uprv": "044a4e28", "vprv": "045f18bc",
}


def _extended_private(prefix: str) -> str:
    """A BIP-32 master private key: HMAC-SHA512("Bitcoin seed", seed) = key || chain code."""
    seed = bytes(RNG.getrandbits(8) for _ in range(64))
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain_code = digest[:32], digest[32:]
    payload = bytes.fromhex(_XPRV_VERSIONS[prefix]) + b"\x00" + b"\x00" * 4 + b"\x00" * 4 + chain_code + b"\x00" + key
    encoded = base58.b58encode_check(payload).decode()
    assert encoded.startswith(prefix), (prefix, encoded)
    return encoded


def extended_public(prefix: str = "xpub") -> str:
    seed = bytes(RNG.getrandbits(8) for _ in range(64))
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    public_key = ec.derive_private_key(int.from_bytes(digest[:32], "big"), ec.SECP256K1()).public_key()
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    payload = bytes.fromhex("0488b21e") + b"\x00" * 9 + digest[32:] + point
    return base58.b58encode_check(payload).decode()


def _xrp_seed(ed: bool) -> str:
    entropy = bytes(RNG.getrandbits(8) for _ in range(16))
    payload = (b"\x01\xe1\x4b" if ed else b"\x21") + entropy
    return base58.b58encode_check(payload, alphabet=base58.RIPPLE_ALPHABET).decode()


def _pem_blocks() -> dict[str, str]:
    ec_key = ec.generate_private_key(ec.SECP256K1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # size is irrelevant here
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem = serialization.Encoding.PEM
    return {
        "pkcs8": ec_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        "ec": ec_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()).decode(),
        "rsa": rsa_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()).decode(),
        "encrypted": rsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"correct horse")).decode(),
        "openssh": ed_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH,
                                        serialization.NoEncryption()).decode(),
    }


def _key_cases() -> list[Case]:
    cases: list[Case] = []
    for compressed in (False, True):
        for testnet in (False, True):
            for template in ("{}", "秘密鍵はこれです {}", "WIF: {}\nどうすれば復元できますか", "my key is {}."):
                wif = _wif(compressed, testnet)
                name = f"{'c' if compressed else 'u'}{'test' if testnet else 'main'}"
                cases.append(Case(f"wif-{name}-{len(cases)}", template.format(wif), "private_key", wif))
    wif = _wif(True, False)
    mistyped = wif[:20] + ("X" if wif[20] != "X" else "Y") + wif[21:]
    cases.append(Case("wif-mistyped-called-a-key", f"秘密鍵は {mistyped} です", "private_key", mistyped))
    keystore = '{"crypto": {"cipher": "aes-128-ctr", "ciphertext": "%s", "kdf": "scrypt"}}' % _hex(64)
    cases.append(Case("keystore-json", keystore, "private_key"))
    for prefix in _XPRV_VERSIONS:
        for template in ("{}", "エクスポートした鍵: {}", "Here is my master key {} thanks"):
            key = _extended_private(prefix)
            cases.append(Case(f"extended-{prefix}-{len(cases)}", template.format(key), "private_key", key))
    for ed in (False, True):
        seed = _xrp_seed(ed)
        cases.append(Case(f"xrp-seed-{'ed' if ed else 'k1'}", f"XRPのシークレット {seed} です", "private_key", seed))
    for name, block in _pem_blocks().items():
        cases.append(Case(f"pem-{name}", f"サーバーの鍵を貼ります\n{block}", "private_key", block.splitlines()[0]))
        cases.append(Case(f"pem-{name}-header-only", block.splitlines()[0] + "\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
                          "private_key"))
    hex_contexts = [
        "秘密鍵は 0x{}",
        "private key: {}",
        "my privkey {}",
        "プライベートキー：{}",
        "secret key = {}",
        "MetaMaskからエクスポートした秘密鍵: {}",
        "Exported private key (hex): 0x{}",
        "{} ← これが私のプライベートキーです",
        "pk: 0x{}",
        "seed: {}",
    ]
    for index, template in enumerate(hex_contexts):
        key = _hex(64)
        if index == 2:
            key = key.upper()
        cases.append(Case(f"hex-key-{index}", template.format(key), "private_key", key))
    return cases


def _ambiguous_cases() -> list[Case]:
    cases = [
        Case(f"hex-bare-{i}", template.format(_hex(64)), "possible_private_key")
        for i, template in enumerate([
            "{}",
            "これを送ればいいですか？ {}",
            "0x{}",
            "I copied this from the app: {}",
            "こちらです\n\n{}\n\nよろしくお願いします。",
            "{} what is this string?",
        ])
    ]
    broken = _extended_private("xprv")
    broken = broken[:-1] + ("2" if broken[-1] != "2" else "3")
    cases.append(Case("xprv-bad-checksum", f"これは何ですか {broken}", "possible_private_key"))
    return cases


# --- passwords, PINs, 2FA codes, API secrets ---------------------------------------------

PASSWORDS = [
    ("ja-wa", "パスワードはhunter22です", "hunter22"),
    ("ja-wa-space", "パスワードは Abc12345 です。ログインできません", "Abc12345"),
    ("ja-colon", "パスワード: xK9#mQ2p", "xK9#mQ2p"),
    ("ja-fullwidth-colon", "パスワード：ｓｕｍｍｅｒ２０２４", "ｓｕｍｍｅｒ２０２４"),
    ("ja-quote", "パスワード「tanaka1985」でログインしようとするとエラーになります", "tanaka1985"),
    ("ja-plain-desu", "パスワードはsakuradesuyoです", "sakuradesuyo"),
    ("ja-ga", "パスワードがpass1234なのにログインできません", "pass1234"),
    ("ja-wo-change", "パスワードを Qwerty!23 に変更しました", "Qwerty!23"),
    ("ja-login-pw", "ログインパスワードは taro_0315 です", "taro_0315"),
    ("ja-pw-abbrev", "ID: tanaka@example.com PW: tnk0315!", "tnk0315!"),
    ("en-colon", "password: hunter2", "hunter2"),
    ("en-my-is", "my password is hunter2", "hunter2"),
    ("en-my-is-plain", "My password is sunshine.", "sunshine"),
    ("en-was", "The password was Tr0ub4dor&3 when it still worked", "Tr0ub4dor&3"),
    ("en-pw", "pw: letmein99", "letmein99"),
    ("en-pwd-equals", "user=kenji pwd=Kenji#2020", "Kenji#2020"),
    ("en-quoted", 'I typed "correct-horse-77" as my password and it fails', "correct-horse-77"),
    ("en-passcode", "passcode: 246813", "246813"),
    ("en-bare", "my password Blue$ky42 doesn't work", "Blue$ky42"),
    ("en-colon-plain-word", "password: sunshine", "sunshine"),
    ("en-quoted-plain-word", "my password is 'bluebird' and it fails", "bluebird"),
    ("ja-colon-plain-word", "パスワード：tanakataro\nID：tanaka@example.com", "tanakataro"),
    ("en-named-after", "abc123xyz is my password", "abc123xyz"),
    ("ja-named-after", "「sakura2024」というパスワードです", "sakura2024"),
    ("ja-pin-wa", "暗証番号は1234", "1234"),
    ("ja-pin-fullwidth", "暗証番号は１２３４です", "１２３４"),
    ("ja-pin-quote", "取引暗証番号「8520」で合っていますか", "8520"),
    ("ja-pin-wo", "暗証番号を0815に変更したのに反映されません", "0815"),
    ("ja-pin-code", "PINコード：4821", "4821"),
    ("en-pin-colon", "PIN: 4821", "4821"),
    ("en-pin-is", "my pin is 9021, can you unlock?", "9021"),
    ("en-pin-code", "pin code 775533", "775533"),
    ("ja-2fa-code", "認証コード 123456", "123456"),
    ("ja-2fa-wa", "認証コードは 482913 です", "482913"),
    ("ja-2fa-otp", "ワンタイムパスワード 739201", "739201"),
    ("ja-2fa-nidankai", "二段階認証のコードは「551902」と表示されています", "551902"),
    ("ja-2fa-sms", "SMSで届いた確認コード：908172", "908172"),
    ("ja-2fa-google", "Google認証システムの2段階認証コード 402 918 を入れてもエラーです", "402 918"),
    ("en-2fa-code", "2FA code: 123456", "123456"),
    ("en-2fa-is", "my 2fa code is 654321", "654321"),
    ("en-authenticator", "Google Authenticator shows 880123 but login fails", "880123"),
    ("en-verification", "the verification code I got was 12345678", "12345678"),
    ("en-otp", "OTP 550011", "550011"),
    ("en-sms", "SMS code 442211 expired already?", "442211"),
    ("en-backup-code", "backup code: 39104412", "39104412"),
    ("ja-cvv", "カードのセキュリティコードは 123 です", "123"),
    ("en-cvv", "CVV 8842", "8842"),
    ("ja-api-secret", "APIシークレット: 7f3kQ9zLm2Xp8vRt4Wb6Yc1N", "7f3kQ9zLm2Xp8vRt4Wb6Yc1N"),
    ("ja-api-secret-wa", "APIシークレットは Hs8Jk2Lq0Zx5Cv7Bn3Mq9Wd です", "Hs8Jk2Lq0Zx5Cv7Bn3Mq9Wd"),
    ("en-api-secret", "api secret: b4a7c2e9f0d1836a5c4b7e2f9a0d1c3b", "b4a7c2e9f0d1836a5c4b7e2f9a0d1c3b"),
    ("en-api-key", "API key = AKIAxQ7mN2pL9sT4vW8z", "AKIAxQ7mN2pL9sT4vW8z"),
    ("en-secret-key", "secret key: sk_live_51HqLmN2xYz8QwErTy", "sk_live_51HqLmN2xYz8QwErTy"),
]


def _password_cases() -> list[Case]:
    return [Case(f"password-{name}", text, "password", value) for name, text, value in PASSWORDS]


# --- cards, My Numbers, bank accounts ----------------------------------------------------

def _luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(RNG.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:  # doubled once the check digit is appended
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return body + str((10 - total % 10) % 10)


def _group(digits: str, sizes: list[int], separator: str) -> str:
    parts, index = [], 0
    for size in sizes:
        parts.append(digits[index:index + size])
        index += size
    return separator.join(parts)


_BRANDS = [
    ("visa", "4", 16, [4, 4, 4, 4]),
    ("visa13", "4", 13, [13]),
    ("mastercard", "53", 16, [4, 4, 4, 4]),
    ("mastercard2", "2720", 16, [4, 4, 4, 4]),
    ("amex", "37", 15, [4, 6, 5]),
    ("jcb", "3540", 16, [4, 4, 4, 4]),
    ("diners", "36", 14, [4, 6, 4]),
    ("discover", "6011", 16, [4, 4, 4, 4]),
    ("unionpay", "62", 19, [4, 4, 4, 4, 3]),
]

_CARD_TEMPLATES = [
    "カード番号は {} です",
    "クレジットカード {} で入金できますか",
    "card number: {}",
    "{}",
    "my visa {} was declined",
    "この{}のカードが使えません",
]


def _card_cases() -> list[Case]:
    cases = []
    for brand, prefix, length, sizes in _BRANDS:
        for separator in ("", " ", "-"):
            digits = _luhn_complete(prefix, length)
            shown = digits if separator == "" else _group(digits, sizes, separator)
            template = RNG.choice(_CARD_TEMPLATES)
            cases.append(Case(f"card-{brand}-{separator or 'plain'}", template.format(shown), "card_number", shown))
    for name, number in [("test-visa", "4111 1111 1111 1111"), ("test-mc", "5555555555554444"),
                         ("test-amex", "3782 822463 10005"), ("test-jcb", "3530-1113-3330-0000"),
                         ("fullwidth", "４１１１　１１１１　１１１１　１１１１".replace("\u3000", " ")),
                         ("long-dash", "4111ー1111ー1111ー1111")]:
        cases.append(Case(f"card-{name}", f"カード {number} を登録したい", "card_number", number))
    return cases


def my_number_check_digit(first11: str) -> str:
    """総務省令第85号: weights 2-7 then 2-6 from the right, mod 11."""
    total = sum(int(first11[10 - (n - 1)]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    remainder = total % 11
    return "0" if remainder <= 1 else str(11 - remainder)


def make_my_number() -> str:
    first11 = "".join(RNG.choice("0123456789") for _ in range(11))
    return first11 + my_number_check_digit(first11)


def _my_number_cases() -> list[Case]:
    templates = [
        "マイナンバーは{}です",
        "個人番号：{}",
        "my number is {}",
        "本人確認用のマイナンバー {} を送ります",
        "My Number: {}",
        "個人番号カードの番号 {}",
        "マイナンバー（個人番号）: {}",
        "Individual Number {}",
        "本人確認で求められたマイナンバーです→{}",
        "mynumber={}",
    ]
    cases = []
    for index, template in enumerate(templates):
        for grouped in (False, True):
            number = make_my_number()
            shown = _group(number, [4, 4, 4], " ") if grouped else number
            cases.append(Case(f"my-number-{index}-{'grouped' if grouped else 'plain'}", template.format(shown),
                              "my_number", shown))
    fullwidth = make_my_number().translate(_FULLWIDTH)
    cases.append(Case("my-number-fullwidth", f"マイナンバーは{fullwidth}です", "my_number", fullwidth))
    for separator in (" ", "-", "ー"):
        number = _group(make_my_number(), [4, 4, 4], separator)
        cases.append(Case(f"my-number-card-layout{separator!r}", f"これで登録できますか {number}", "my_number", number))
    return cases


BANK_ACCOUNTS = [
    ("ja-plain", "口座番号 1234567", "1234567"),
    ("ja-wa-desu", "口座番号は7654321です", "7654321"),
    ("ja-colon", "口座番号：0012345", "0012345"),
    ("ja-futsu", "三菱UFJ銀行 渋谷支店 普通 1234567", "1234567"),
    ("ja-futsu-yokin", "出金先は みずほ銀行 新宿支店 普通預金 2345678 です", "2345678"),
    ("ja-toza", "当座 3456789", "3456789"),
    ("ja-branch-dash", "口座番号: 123-4567890", "123-4567890"),
    ("ja-branch-before", "支店番号123 口座番号4567890", "4567890"),
    ("ja-six", "口座番号は 654321 です", "654321"),
    ("ja-eight", "口座番号 87654321 に出金したい", "87654321"),
    ("ja-fullwidth", "口座番号は１２３４５６７", "１２３４５６７"),
    ("en-account-number", "account number: 12345678", "12345678"),
    ("en-acct-no", "acct no. 1234567", "1234567"),
    ("en-bank-account", "my bank account is 7654321 at SMBC", "7654321"),
    ("en-account-no", "Account No 0098765", "0098765"),
    ("ja-digits-hint", "口座番号(7桁)：1234567", "1234567"),
    ("ja-no-dot", "口座No.2345678", "2345678"),
    ("ja-payee", "振込先：楽天銀行 第一営業支店 普通預金 7654321", "7654321"),
    ("ja-touten", "口座番号は、1234567です", "1234567"),
    ("ja-long-dash", "普通 123ー4567890", "123ー4567890"),
    ("en-acct-hash", "acct #: 12345678", "12345678"),
    ("en-dash", "Bank account number - 0012345", "0012345"),
    ("ja-yucho", "ゆうちょ銀行 記号 12345 番号 12345671", "12345671"),
    ("ja-yucho-dash", "ゆうちょ 記号：10180 番号：87654321 です", "87654321"),
]


def _bank_cases() -> list[Case]:
    return [Case(f"bank-{name}", text, "bank_account", value) for name, text, value in BANK_ACCOUNTS]


# --- operators ---------------------------------------------------------------------------

SOLICITATIONS = [
    "シードフレーズを教えてください",
    "本人確認のため、秘密鍵を送ってください",
    "認証コードを教えて",
    "お客様のパスワードをこちらに入力してください",
    "復旧のために12個の単語をすべてお送りください。",
    "SMSで届いた6桁の認証コードを教えていただけますか？",
    "リカバリーフレーズと秘密鍵をこのチャットで共有してください",
    "暗証番号をお知らせください",
    "パスワードを伺ってもよろしいでしょうか",
    "ログインパスワードをご提供ください",
    "2段階認証コードを至急送信してください",
    "ワンタイムパスワードをお伝えください",
    "秘密鍵は何ですか？",
    "確認のためシードフレーズを教えていただけませんか",
    "please send me your 12 words",
    "could you tell me your password?",
    "What is your seed phrase?",
    "To verify your wallet, please share your recovery phrase.",
    "I need your private key to recover the funds.",
    "Send us the 2FA code you just received.",
    "Please type your password here so I can check.",
    "Reply with your PIN.",
    "Kindly provide your seed phrase to complete verification.",
    "Don't worry, just send me your seed phrase and I'll fix it.",
    "Let me know your verification code.",
    "What's your authenticator code?",
]

OPERATOR_ORDINARY = [
    "パスワードや秘密鍵は絶対に送らないでください",
    "当社がシードフレーズをお伺いすることはありません。",
    "we will never ask for your seed phrase",
    "please never share your private key",
    "パスワードを忘れた場合は、ログイン画面の「パスワードをお忘れの方」から再設定してください。",
    "アプリに届いた認証コードを入力してください。",
    "Please enter the 2FA code in the app.",
    "Please reset your password from the login screen.",
    "認証コードは誰にも教えないでください。",
    "If anyone asks for your private key, it is a scam.",
    "Do not share your recovery phrase with anyone, including our staff.",
    "パスワード再設定のリンクをお送りしました。メールをご確認ください。",
    "パスワードリセットのメールをお送りします。",
    "二段階認証の設定方法をご案内します。",
    "秘密鍵やシードフレーズをお客様からお聞きすることは一切ございません。",
    "Your password must be at least 8 characters.",
    "Did you receive the verification code?",
    "Do you need a new verification code?",
    "Could you send us a screenshot of the error?",
    "Please tell us your registered email address and the date of the deposit.",
    "Please keep your seed phrase offline and never share it.",
    "We have sent a verification code to your registered phone number.",
    "ご本人確認のため、登録メールアドレスと生年月日を教えてください。",
    "セキュリティのため、パスワードは定期的に変更してください。",
    "2段階認証を有効にしてください。",
    "パスワードをお忘れの場合はこちらから再設定をお願いします。",
    "パスワードの再設定をお願いします。",
    "認証コードはSMSで届きます。届かない場合はご連絡ください。",
    "認証コードが届かない場合はご連絡ください。",
    "シードフレーズは紙に書いて保管してください。",
    "Please write down your recovery phrase and store it safely.",
    "パスワードは8文字以上で設定してください。",
    "サポート担当者を名乗ってシードフレーズを聞き出す詐欺にご注意ください。",
    "お問い合わせの注文番号を教えてください。",
    "Please share the transaction ID (TxID) of the deposit.",
    "ご入金のトランザクションIDを教えていただけますか。",
    "We'll send you a password reset link shortly.",
    "Please let us know the error code shown in the app.",
    "秘密鍵は、ご自身のウォレットで安全に保管してください。第三者には絶対に教えないでください。",
    "Scammers may ask for your 2FA code - never give it to anyone.",
]


# --- ordinary user messages ----------------------------------------------------------------

_TX = [_hex(64) for _ in range(12)]


def _my_number_valid_order_id() -> str:
    """A 12-digit order id that happens to pass the My Number check digit."""
    return make_my_number()


def _luhn_valid_order_id() -> str:
    """A 16-digit order id that happens to pass Luhn with a Visa prefix."""
    return _luhn_complete("4", 16)


ORDINARY = [
    # deposits and withdrawals (ja)
    "昨日BTCを0.5送金したのですが、まだ入金が反映されていません。確認をお願いします。",
    "入金したのに残高が増えません。TxIDは " + _TX[0] + " です。",
    "トランザクションID: 0x" + _TX[1] + " の入金がまだ反映されていません",
    "出金申請から3時間経ちますが、ステータスが「処理中」のままです。",
    "出金先アドレスを登録しようとすると E1042 と表示されます。",
    "イーサリアムを 0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe に出金しました。着金まで何分かかりますか？",
    "XRPの入金で宛先タグを入れ忘れました。アドレスは rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh です。",
    "宛先タグ 104729 を付けてXRPを送りました。反映されていません。",
    "ビットコインのアドレス bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq に送金しました。",
    "送金元は 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 です。",
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy への出金が失敗しました。",
    "ライトコインを LQTpS3VaYTjCr4s9Y1t5zbeY26zKZGrg8A から送りました。",
    "ハッシュは " + _TX[2] + " です。ブロックエクスプローラーでは承認済みになっています。",
    "https://etherscan.io/tx/0x" + _TX[3] + " を見ると成功しているのに残高に反映されません。",
    "https://mempool.space/tx/" + _TX[4],
    "日本円の出金で ¥1,234,567 を申請しました。手数料はいくらですか？",
    "1,234,567円を三菱UFJ銀行に出金したいのですが、上限はありますか。",
    "本日10時に100000円を入金しましたが反映されていません。",
    "入金額は 50,000 円です。振込名義は ヤマダタロウ です。",
    "Solanaのアドレス 7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV に送れますか？",
    "ドージコインの入金アドレスは DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L で合っていますか。",
    "BCHを bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a に送りました。",
    "TRC20のUSDTを TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7 に送ってしまいました。取り戻せますか？",
    "タップルートアドレス bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297 には出金できますか？",
    "出金のトランザクションハッシュ: " + _TX[5],
    "ブロック高 841234 で承認されているはずです。",
    # orders and trading (ja)
    "注文番号 " + _my_number_valid_order_id() + " の約定がキャンセルされました。",
    "注文ID: " + _luhn_valid_order_id() + " がまだ約定しません",
    "注文番号: 202405230001 の指値注文が消えています",
    "ご注文 " + _my_number_valid_order_id() + " について確認させてください",
    "取引ID " + _group(_luhn_valid_order_id(), [4, 4, 4, 4], " ") + " の明細をください",
    "0.01 BTC を 9,850,000 円で指値注文しました。",
    "成行で 12.3456 ETH を売却しましたが、約定価格が表示と違います。",
    "レバレッジ取引のロスカットが 2024-05-23 14:32:10 に発生しました。理由を知りたいです。",
    "5月23日 14時頃から板が表示されません。",
    "令和6年5月23日の取引報告書をダウンロードできません。",
    "年間取引報告書（2023年分）はいつ発行されますか？",
    "スプレッドが広すぎませんか？ 買値 9,912,345円 売値 9,780,001円 でした。",
    "注文履歴に 1716450730 というタイムスタンプが表示されています。",
    "APIで取得した約定時刻が 1716450730123 になっています。ミリ秒ですか？",
    # account, password, 2FA (ja)
    "パスワードを忘れました",
    "パスワードリセットのメールが届きません",
    "パスワードを変更したらログインできなくなりました。",
    "パスワードは何文字以上必要ですか？",
    "パスワードは英数字混在ですか？記号は使えますか？",
    "パスワードは8文字以上と書いてありますが、12文字でもエラーになります。",
    "パスワードはSMSで届きますか？",
    "パスワードの再設定画面でエラー E1042 が出ます。",
    "パスワードを5回間違えてロックされました。",
    "暗証番号を忘れました。どうすればいいですか？",
    "暗証番号は何桁ですか？",
    "暗証番号は4桁と6桁のどちらですか",
    "二段階認証のコードが届きません。",
    "2段階認証を設定したスマホを機種変更しました。どうすればいいですか？",
    "認証アプリを削除してしまい、ログインできません。",
    "認証コードを入力しても「コードが無効です」と表示されます。",
    "認証コードが届かないので、電話番号 090-1234-5678 宛てに再送してください。",
    "2FAを有効にしたら出金できなくなりました。2024/05/20 からです。",
    "SMS認証の電話番号を 080-9876-5432 に変更したいです。",
    "ワンタイムパスワードの有効期限は何秒ですか？",
    "認証コードを6回間違えてロックされました。",
    "本人確認書類の審査はどれくらいかかりますか？",
    "マイナンバーカードで本人確認できますか？",
    "マイナンバーの提出は必須ですか？",
    "登録住所を変更しました。郵便番号は〒150-0002です。",
    "新しい住所は 東京都渋谷区渋谷2-24-12 です。郵便番号 150-0002。",
    "電話番号を +81 90-1234-5678 に変更したいです。",
    "会社の電話番号は 03-1234-5678、携帯は 09012345678 です。",
    "フリーダイヤル 0120-123-456 に電話しましたがつながりません。",
    "登録メールアドレスを tanaka.taro@example.com に変更したいです。",
    "口座番号の登録方法を教えてください。",
    "口座番号が7桁しか入力できません。",
    "振込先の口座に 100000 円入金しました。",
    "普通に出金できていたのに、今日は 300,000円 の出金がエラーになります。",
    "銀行口座の名義が違うと言われました。",
    "口座開設の申し込みから1週間経ちました。",
    "会員番号 12345678 でログインできません。",
    "クレジットカードで暗号資産を買えますか？",
    "カードの有効期限は 12/27 です。使えますか？",
    "APIキーの権限設定について教えてください。",
    "APIシークレットを再発行したいです。",
    "アカウントがロックされました。アカウントID は U12345678 です。",
    # system errors (ja)
    "アプリのバージョンは v3.12.1 (build 4521) です。iOS 17.4.1 で起動直後に落ちます。",
    "Android 14、Pixel 8 でチャートが表示されません。アプリは 3.12.0 です。",
    "エラーコード 500 が表示されました。",
    "「ネットワークエラー（E2001）」と出て入金画面が開きません。",
    "スクショを添付します。赤枠のところが押せません。",
    "画面のスクリーンショットを送ります。",
    "2024年5月23日 9:41 から通知が来ません。",
    "プッシュ通知がオンなのに届きません。端末は iPhone 15 Pro です。",
    "ログイン時に「セッションの有効期限が切れました」と表示されます。",
    "チャートの1分足が 14:32 から更新されません。",
    # other (ja)
    "手数料はいくらですか？",
    "取引所とアプリでBTC価格が違うのはなぜですか？",
    "レンディングの年率は何%ですか？ 3.5%と書いてありました。",
    "積立の引き落とし日は毎月27日ですか？",
    "ありがとうございました。解決しました！",
    "了解です。しばらく待ってみます。",
    "サポートからシードフレーズを聞かれたのですが、本当にサポートですか？",
    "秘密鍵の保管方法についてアドバイスをください。",
    "ハードウェアウォレットに移す場合、シードフレーズは何単語ですか？",
    "紙に書いた12個の単語をなくしてしまいました。どうすればいいですか？",
    # deposits and withdrawals (en)
    "I sent 0.5 BTC about an hour ago but it still has not arrived in my account.",
    "My deposit of 1.25 ETH is not showing. The tx hash is 0x" + _TX[6] + ".",
    "txid: " + _TX[7],
    "Transaction ID " + _TX[8] + " shows 6 confirmations but the balance is still zero.",
    "Here is the explorer link: https://blockchair.com/bitcoin/transaction/" + _TX[9],
    "I withdrew 0.1 BTC to bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh yesterday, status is still pending.",
    "Please check withdrawal to 0x71C7656EC7ab88b098defB751B7401B5f6d8976F.",
    "Can I deposit XRP with destination tag 2210987?",
    "I forgot the destination tag when sending XRP to rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe.",
    "The withdrawal fee of 0.0005 BTC seems too high.",
    "I transferred ¥500,000 from my bank on 2024/05/22 but only ¥450,000 arrived.",
    "Deposit of $1,500.00 via bank transfer, reference SEPA-20240523-0042.",
    "Withdrawal hash " + _TX[10] + " is confirmed on chain.",
    # orders (en)
    "Order ID " + _luhn_valid_order_id() + " was cancelled without my action.",
    "Order #" + _group(_luhn_valid_order_id(), [4, 4, 4, 4], " ") + " is stuck in partially filled.",
    "My order " + _my_number_valid_order_id() + " shows the wrong price.",
    "I placed a limit order for 0.2 BTC at 9,800,000 JPY at 2024-05-23T05:32:10Z.",
    "Why was my stop order triggered at 14:05:33 JST?",
    # account, password, 2FA (en)
    "I forgot my password",
    "How do I reset my password?",
    "My password is not working.",
    "My password is correct but login fails.",
    "Password reset link expired, can you send a new one?",
    "Is the password case sensitive?",
    "Password: forgotten, please help",
    "My password is incorrect apparently.",
    "The password must be 8 characters?",
    "I changed my password yesterday and now the app logs me out.",
    "I didn't receive the SMS code.",
    "My authenticator code doesn't work after changing phones.",
    "How do I disable 2FA? I lost my phone.",
    "The 2FA code field only accepts 6 digits but the app shows nothing.",
    "Google Authenticator was deleted, how can I recover my account?",
    "My PIN is locked after 5 attempts.",
    "How many digits is the PIN?",
    "What is my account number? I can't find it in the app.",
    "My phone number changed to +81 80 1234 5678.",
    "Please call me at 090-1234-5678 after 6pm.",
    "My zip code is 150-0002.",
    # system errors (en)
    "The app crashes on launch. Version 3.12.1 (4521), iOS 17.4.1, iPhone 13.",
    "I get error E1042 when I try to add a withdrawal address.",
    "Error code: ERR_NETWORK_TIMEOUT at 2024-05-23 09:41:07.",
    "HTTP 503 when opening the chart, see the attached screenshot.",
    "I attached a screenshot of the error message.",
    "Push notifications stopped after the update to 3.12.0.",
    # dense in BIP-39 words (en): prose must never reach the mnemonic threshold
    "Hello, I have a question about my account. I want to check the amount of my last deposit because the "
    "balance is wrong again.",
    "Please help. I can not find the order history for this month, and the total amount also looks wrong.",
    "Sorry to bother you again, but the price on the market screen is different from the trade price.",
    "I already tried to update the app, clear the cache and restart the phone, but the error is still there.",
    "Can you confirm when the deposit will be available? It has been more than one hour since I sent it.",
    "My daughter opened an account last week and wants to know how to buy bitcoin with cash.",
    "Thank you for your quick answer, that solved my problem. Have a good day!",
    "Every time I open the app the screen goes black, then it will crash after a few seconds.",
    "The exchange rate changed during the transfer so the final amount was lower than expected.",
    "Please cancel order number 202405230001 because I made a mistake with the price.",
    "Which network should I use for USDT: ERC20 or TRC20? I do not want to lose my coins.",
    "Could you explain the fee structure for maker and taker orders on the exchange?",
    "I am a new user and I would like to know the minimum amount for a bitcoin withdrawal.",
    "hello support team, my account was locked after too many login attempts, please unlock it",
    "Is there a limit on how much I can deposit per day? I plan to transfer about 3,000,000 yen.",
    "Please note that I will be away next week, so I will check your answer after I return.",
    "Hi, just wanted to say the new version is great, but the dark theme makes the chart hard to read.",
    "Where can I find the annual trade report for my tax return?",
    "A person who said they were from support asked me for my seed phrase. Is this a scam?",
    "Do you ever ask for a recovery phrase or private key? Someone messaged me on X.",
    "Which words of the seed phrase should I keep? I wrote all twelve on paper.",
    "Someone asked me to type my 12 words into a website, I did not do it.",
    # more numbers that are not secrets
    "法人番号 " + _luhn_complete("4", 13) + " の法人口座で登録しています。",
    "JANコード " + _luhn_complete("4", 13) + " の商品券は使えますか",
    "追跡番号 " + _group(make_my_number(), [4, 4, 4], "-") + " の書類が届きません",
    "お問い合わせ番号 " + _group(make_my_number(), [4, 4, 4], " ") + " の件です",
    "ご注文番号：" + _luhn_valid_order_id() + " です",
    "電話番号 0312345678 までお願いします",
    "携帯 090 1234 5678 です",
    "+81 (0)90 1234 5678 に電話ください",
    "口座番号の下4桁は 4567 です",
    "口座番号を入力する欄が 7 桁までしか入りません",
    "普通預金の残高 1234567円 を全額出金したい",
    "当座の生活費として 300000 円だけ出金したいです",
    "普通は何日で着金しますか？ 1500000円 です",
    "Amount 1234567 JPY to the account ending in 4567",
    "I sent 1 000 000 yen yesterday",
    "ブロックハッシュ 00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054",
    "SHA256: " + _hex(64) + " (app installer checksum)",
    "USDT (ERC20) の送金ID: 0x" + _hex(64),
    "Solana tx signature 5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW",
    "input data: 0xa9059cbb" + _hex(128),
    "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7en"
    "xv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j2"
    "5emudupq63nyw24cg27h2rspfj9srp",
    # more account, password and 2FA talk
    "2段階認証のバックアップコードをなくしました",
    "認証コードの桁数は6桁ですか？",
    "パスワードに記号 ! や # は使えますか？",
    "パスワードは「8文字以上」とありますが、何文字まで使えますか",
    "PW変更後にログインできません",
    "パスワードはiCloudキーチェーンに保存しています",
    "My password is the same as before.",
    "The password is fine, the problem is the 2FA.",
    "my password is: same as the email one",
    "Password strength meter says weak",
    "pin code not received yet",
    "Is the PIN 4 or 6 digits?",
    "OTP not arriving since 10:30",
    "2FA reset request #123456 has no answer yet",
    "二段階認証アプリは Google Authenticator を使っています",
    "認証コードを 3 回送ってもらいましたが 090-1234-5678 に届きません",
    "verification code sent to 09012345678 never arrived",
    "two-factor authentication enabled since 20240523",
    "I use a password manager (1Password) and it fills the wrong field",
    "Google Authenticator 6.0.1 shows codes for another site only",
    "おかねを　おくったのに　はんえいされない　どうしたらいい　おしえて　ください　いそいでいます",
    # prose after a password word, masks, and near-misses of codes
    "Password: check the screenshot I attached",
    "Password: doesn't work since the update",
    "Password: ******** (hidden in the app)",
    "pw: same as before",
    "PASSWORD: INCORRECT is all the app says",
    "password-protected PDF of the annual report cannot be opened",
    "password (8+ chars) is accepted but login fails",
    "my password contains symbols like @ and #, is that a problem?",
    "Authenticator: Authy 2.4.1 on Android",
    "予約の確認コード 123-456-789 とは別の件です",
    "認証メールのリンク https://app.example.com/verify?token=" + _hex(64) + " が開けません",
    "https://etherscan.io/tx/0x" + _hex(64) + "?network=mainnet",
    "ゆうちょ銀行の記号と番号の入力欄がどこにあるか分かりません",
    "口座番号は登録済みです。変更方法を教えてください。",
    "パスワードは大丈夫です。2段階認証のほうが問題です。",
    "パスワード：大文字・小文字・数字を含めています",
    "PINコードを4回間違えました",
    "2FA設定: 2024年5月23日",
    "Deposit, Withdraw, Transfer, Balance, History, Order, Trade, Market, Price, Chart, Alert, News, Help: "
    "which menu shows fees?",
    "にゅうきん した のに はんえい されない です たすけて ください",
    # long mixed messages
    "お世話になっております。5月20日に 0.35 BTC を外部ウォレットから送金しました。送金元アドレスは "
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq、TxIDは " + _TX[11] + " です。ブロックエクスプローラー上では"
    "6承認以上になっていますが、アプリの残高に反映されていません。アプリのバージョンは 3.12.1、端末は iPhone 15 です。"
    "お手数ですがご確認をお願いいたします。注文番号 202405200077 とは別件です。",
    "Hello, on 2024-05-20 at 14:32 JST I withdrew 1,250,000 JPY to my bank, reference WD-20240520-8812. "
    "The app says completed but the money has not arrived. My registered phone is 090-1234-5678 and the "
    "app version is 3.12.1 on Android 14. I also attached a screenshot of the withdrawal history. Thanks!",
]


# --- issue 15: everyday speech, other apps named innocently, long messages ---------------------
# Ordinary messages too (they join `ORDINARY`): sentences of common words, most of which are on
# the BIP-39 list, and questions that name Telegram, WhatsApp, LINE or Discord without a scam.

EVERYDAY = [
    # English, common words (dense in list words: you, can, this, that, what, when, help, just…)
    "What can you do when the app will not open? I have tried again this morning.",
    "Thank you so much, that was a great help. Have a good day!",
    "I just want to know when my money will arrive, that is all.",
    "Can you tell me what time the team is open on Sunday?",
    "They said the price would change again next week, is that right?",
    "My family uses this app too and they love it, but the chart is hard to read at night.",
    "I have one more question about the same order from last week.",
    "Please help, I need this done today because I travel tomorrow.",
    "I think there is a problem with the screen after the last update.",
    "Good morning, any news about my case? It has been three days.",
    "Sure, I will wait. Let me know when you find something.",
    "Everything works now, you can close this chat. Thanks again!",
    "When I try to buy more coins the button does nothing at all.",
    "Is it safe to keep all my coins on the exchange or should I move them?",
    "Where can I see the history of my past trades?",
    # Japanese, everyday
    "おはようございます。今朝からアプリが開かないのですが、何かあったのでしょうか。",
    "ありがとうございます。助かりました。また何かあればよろしくお願いします。",
    "今日中に出金したいのですが、何時までに申請すれば間に合いますか？",
    "家族も同じアプリを使っているのですが、アカウントを分ける必要はありますか。",
    "少し待ってみます。何か分かったら教えてください。",
    "先週の注文について、もう一度確認してもらえますか？",
    "いつもお世話になっております。チャートの表示について質問があります。",
    "明日から海外に行くのですが、海外からでもログインできますか？",
    "すみません、さっきの件ですが、もう解決しました。",
    "画面が真っ白になって何も押せません。どうしたらいいですか？",
    # other apps named innocently
    "Is there an official Telegram group for announcements?",
    "Can I log in with my LINE account?",
    "Do you have support on WhatsApp, or only in this chat?",
    "I saw a Telegram channel using your logo, is it yours?",
    "My friend told me about your app on WhatsApp and I just signed up.",
    "Does the app send notifications to Discord or only to the phone?",
    "LINEでログインできますか？",
    "公式のTelegramグループはありますか？",
    "WhatsAppでもサポートを受けられますか？",
    "友達からLINEでこのアプリを教えてもらいました。",
    "Signalのような暗号化されたチャットですか？",
    "Discordのコミュニティはありますか？",
    "What is the withdrawal fee for BTC?",
    "Do I need to pay a fee to withdraw to my bank?",
    "I contacted support by phone yesterday and they told me to use this chat.",
]

EVERYDAY_LONG = [
    "Hello, I hope you are well. I have been using the app for about two years and I really like it, but since "
    "the update last week I have a few problems. First, when I open the app in the morning it takes a long time "
    "to load the chart. Second, the price alerts do not arrive on my phone any more, even though notifications "
    "are on in the settings. Third, my family member who also uses the app says the same thing happens on her "
    "phone. We both use Android. Could you please check if this is a known issue and tell us what we can do? "
    "Also, is there an official Telegram channel where you post news about updates like this? Thank you.",
    "いつもお世話になっております。先週からアプリの調子が悪く、朝にアプリを開くとチャートの読み込みに時間がかかります。"
    "また、価格アラートの通知が届かなくなりました。設定では通知はオンになっています。家族も同じアプリを使っていますが、"
    "同じ症状が出ているそうです。二人ともAndroidです。既知の不具合かどうか確認していただけますか。"
    "それと、アップデートのお知らせを出している公式のLINEアカウントやTelegramチャンネルはありますか？"
    "もしあれば教えてください。よろしくお願いいたします。",
]

# Sentences whose every word is on the English BIP-39 list (checksum invalid): at most a
# confirmation (`possible_mnemonic`), never a refusal.
LIST_WORD_PROSE = [
    "You must keep that old family music they never want what they know",
    "Can you help find that great old movie they say this city used",
    "They say this time you can try again only then will you win",
    "Cash price will change again today you must check what they offer now",
]

ORDINARY.extend(EVERYDAY + EVERYDAY_LONG)


def long_ordinary(count: int, length: int = 500, seed: int = 7) -> list[str]:
    """`count` messages of about `length` characters, each a few ordinary messages joined."""
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < length - 60:
            parts.append(rng.choice(ORDINARY))
        messages.append("\n".join(parts))
    return messages


def secret_cases() -> list[Case]:
    return [
        *_mnemonic_cases(), *_key_cases(), *_password_cases(),
        *_card_cases(), *_my_number_cases(), *_bank_cases(),
    ]


def ambiguous_cases() -> list[Case]:
    return _ambiguous_cases()


SECRETS = secret_cases()
AMBIGUOUS = ambiguous_cases()
