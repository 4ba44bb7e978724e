"""Sums the JUnit XML reports every test stage leaves in one folder into CI's closing line.

    python scripts/tally.py RESULTS_DIR [FAILED_STAGE ...]

Prints one line per report, then the plain total `N passed, N failed` as the very last line
(CI reads that line to know tests ran). A stage that failed without a report saying so (it
crashed before writing one, or its runner exited non-zero with every case green) counts as one
failed test, so a broken stage can never hide behind the others' totals. Exits 1 when anything
failed or no test ran at all.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) of one JUnit XML file: <testsuites> or a bare <testsuite>."""
    root = ET.parse(report).getroot()
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        outcome = {child.tag for child in case}
        if outcome & {"failure", "error"}:
            failed += 1
        elif "skipped" in outcome:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    folder, failed_stages = Path(argv[1]), argv[2:]
    total_passed = total_failed = total_skipped = 0
    failed_by_stage: dict[str, int] = {}
    for report in sorted(folder.glob("*.xml")):
        stage = report.stem.split("--", 1)[0]
        try:
            passed, failed, skipped = count(report)
        except ET.ParseError as exc:
            passed, failed, skipped = 0, 1, 0
            print(f"  {report.name}: unreadable report ({exc})")
        print(f"  {report.name}: {passed} passed, {failed} failed, {skipped} skipped")
        total_passed += passed
        total_failed += failed
        total_skipped += skipped
        failed_by_stage[stage] = failed_by_stage.get(stage, 0) + failed
    for stage in failed_stages:
        if not failed_by_stage.get(stage):
            print(f"  {stage}: the stage failed without a failing test in its report")
            total_failed += 1
    print(f"{total_passed} passed, {total_failed} failed, {total_skipped} skipped")
    return 1 if total_failed or not total_passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
