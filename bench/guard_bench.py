"""Time the sensitive-content guard per message (a report, not a test).

    .venv/bin/python bench/guard_bench.py [--messages 2000] [--rounds 5]

Messages come from the test corpus (tests/guard_corpus.py): ordinary support messages joined
to about 500 characters, and every generated secret embedded in such a message. Prints the
mean, p50 and p99 in µs per message for ordinary, secret and mixed (9 ordinary : 1 secret)
traffic, as operator messages too, and timings for a 4096-character message (the chat
limit) and 65,536 characters (the guard's scan cap). Target: mean < 1000 µs at 500 chars.
Issue 15 adds texts that need the normalisation (a zero-width character in each), 500
characters with no spaces, and the detection counts over its corpora.
Wall-clock time includes whatever else the machine runs; the thread's CPU time does not,
so on a busy machine its p99 is the one that tells the guard's own tail.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The corpus lives in tests/; run from anywhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support_api.lib.guard import inspect, scam_reason  # noqa: E402
from tests import guard_corpus as corpus  # noqa: E402
from tests import test_guard_safety as safety  # noqa: E402


def _embedded_secrets(length: int) -> list[str]:
    fillers = corpus.long_ordinary(len(corpus.SECRETS), length=length, seed=11)
    texts = []
    for case, filler in zip(corpus.SECRETS, fillers, strict=True):
        room = max(0, length - len(case.text) - 1)
        cut = filler[:room].rsplit("\n", 1)[0] if room else ""
        texts.append(f"{cut}\n{case.text}" if cut else case.text)
    return texts


Timing = tuple[list[float], list[float]]  # wall-clock µs, thread CPU µs


def _time(texts: list[str], rounds: int, run: Callable[[str], object]) -> Timing:
    for text in texts[:50]:
        run(text)  # warm caches and lazy imports
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start_cpu = time.thread_time_ns()
            start = time.perf_counter_ns()
            run(text)
            wall.append((time.perf_counter_ns() - start) / 1000)
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
    return wall, cpu


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"mean={statistics.fmean(samples):7.1f} p50={statistics.median(samples):7.1f} p99={p99:7.1f}"


def _report(name: str, texts: list[str], timing: Timing) -> None:
    wall, cpu = timing
    mean_chars = statistics.fmean(len(text) for text in texts)
    print(f"{name:<26} n={len(wall):>6} chars≈{mean_chars:>5.0f}  wall µs: {_summary(wall)}"
          f"  |  cpu µs: {_summary(cpu)}")


def _detection() -> None:
    """Issue 15's corpora: what the guard says, counted (the tests assert the same)."""
    disguised = safety.disguised_secrets()
    caught = sum(1 for _, text, kind in disguised if (r := inspect(text)).blocked and r.blocked.kind == kind)
    ordinary = corpus.ORDINARY + corpus.long_ordinary(200)
    flagged = sum(1 for text in ordinary if (r := inspect(text)).blocked or r.ambiguous or r.masked)
    prose_refused = sum(1 for text in corpus.LIST_WORD_PROSE if inspect(text).blocked)
    prose_asked = sum(1 for text in corpus.LIST_WORD_PROSE if (r := inspect(text)).ambiguous)
    scams = sum(1 for text, reason in safety.SCAMS if scam_reason(text) == reason)
    innocent = corpus.EVERYDAY + corpus.EVERYDAY_LONG + corpus.ORDINARY
    scam_false = sum(1 for text in innocent if scam_reason(text))
    off = sum(1 for text in safety.OFF_PLATFORM
              if (r := inspect(text, author="operator", allowed_domains=safety.ALLOW)).blocked
              and r.blocked.kind == "off_platform")
    op_ok = safety.OPERATOR_FINE + corpus.OPERATOR_ORDINARY + safety.OTP_ORDINARY
    op_false = sum(1 for text in op_ok if inspect(text, author="operator", allowed_domains=safety.ALLOW).blocked)
    otp = sum(1 for text in safety.OTP_REQUESTS if (r := inspect(text, author="operator")).blocked)
    print("detection (issue 15 corpora):")
    print(f"  secrets in disguise refused        {caught}/{len(disguised)}")
    print(f"  ordinary messages with any finding {flagged}/{len(ordinary)}")
    print(f"  list-word prose refused / asked    {prose_refused}/{len(corpus.LIST_WORD_PROSE)} / "
          f"{prose_asked}/{len(corpus.LIST_WORD_PROSE)}")
    print(f"  scam descriptions recognised       {scams}/{len(safety.SCAMS)}")
    print(f"  innocent messages taken for scams  {scam_false}/{len(innocent)}")
    print(f"  operator off-platform refused      {off}/{len(safety.OFF_PLATFORM)}")
    print(f"  operator one-time-code requests    {otp}/{len(safety.OTP_REQUESTS)}")
    print(f"  operator ordinary messages refused {op_false}/{len(op_ok)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="ordinary 500-char messages")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    ordinary = corpus.long_ordinary(args.messages, length=500)
    secrets = _embedded_secrets(500)
    rng = random.Random(3)
    mixed = [rng.choice(secrets) if rng.random() < 0.1 else rng.choice(ordinary) for _ in range(args.messages)]

    def user(text: str) -> object:
        return inspect(text)

    def operator(text: str) -> object:
        return inspect(text, author="operator")

    print(f"guard benchmark: {len(ordinary)} ordinary, {len(secrets)} secret messages, {args.rounds} rounds")
    _report("ordinary (user)", ordinary, _time(ordinary, args.rounds, user))
    _report("secrets (user)", secrets, _time(secrets, args.rounds, user))
    _report("mixed 9:1 (user)", mixed, _time(mixed, args.rounds, user))
    _report("mixed 9:1 (operator)", mixed, _time(mixed, args.rounds, operator))
    for length in (4096, 65536):
        long_text = "\n".join(corpus.long_ordinary(1, length=length, seed=5))
        _report(f"one {length}-char message", [long_text], _time([long_text], 20, user))
    word_soup = " ".join(["about", "account", "again", "also", "amount"] * 13108)[:65536]
    _report("65536 chars of list words", [word_soup], _time([word_soup], 5, user))
    # Issue 15: texts that take the normalisation path (invisible characters, look-alike letters).
    disguised = [(filler[:400] + "\u200b" + text)[:500] for filler, (_, text, _) in
                 zip(ordinary, safety.disguised_secrets() * 30, strict=False)]
    _report("disguised secrets (user)", disguised, _time(disguised, args.rounds, user))
    glued = ["".join(text.split()) for text in ordinary[:200]]
    _report("500 chars, no spaces (user)", glued, _time(glued, args.rounds, user))
    _detection()


if __name__ == "__main__":
    main()
