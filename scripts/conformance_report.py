"""Summarise a Robot Framework output.xml of the ETSI NGSI-LD suite: pass counts per folder,
and with --failures the failure messages grouped by their first line."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict


def main() -> None:
    path = sys.argv[1]
    root = ET.parse(path).getroot()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}

    def walk(suite: ET.Element, trail: list[str]) -> None:
        here = [*trail, suite.get("name", "")]
        for test in suite.findall("test"):
            folder = "/".join(here[1:4])
            status = test.find("status")
            ok = status is not None and status.get("status") == "PASS"
            counts[folder][0 if ok else 1] += 1
            if not ok and status is not None:
                reason = re.sub(r"\d{3}_\d\d\S*|urn:\S+|'[^']*'", "…", (status.text or "")[:110])
                reasons[reason] += 1
                examples.setdefault(reason, test.get("name", ""))
        for child in suite.findall("suite"):
            walk(child, here)

    walk(root.find("suite"), [])  # type: ignore[arg-type]
    print("| folder | passed | failed | total | % |\n|---|---|---|---|---|")
    total = [0, 0]
    for folder, (ok, bad) in sorted(counts.items()):
        total[0] += ok
        total[1] += bad
        print(f"| {folder} | {ok} | {bad} | {ok + bad} | {100 * ok / (ok + bad):.0f} |")
    t = sum(total)
    print(f"| **all** | {total[0]} | {total[1]} | {t} | {100 * total[0] / max(t, 1):.0f} |")
    if "--failures" in sys.argv:
        print("\n| failures | reason (first line) | example |\n|---|---|---|")
        for reason, n in reasons.most_common(40):
            print(f"| {n} | {reason.replace('|', '/')} | {examples[reason][:50]} |")


if __name__ == "__main__":
    main()
