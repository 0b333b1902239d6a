"""Summarise Robot Framework output.xml files of the ETSI NGSI-LD test suite (stdlib only).

    python3 scripts/conformance_report.py OUTPUT.xml [--failures] [--depth N]
    python3 scripts/conformance_report.py sqlite=A/output.xml postgres=B/output.xml [--depth N]

One file: a markdown table of passed, failed, total and % per folder (the test's .robot file's
folder under TP/NGSI-LD, cut to --depth parts, default 3), then a total row. With --failures,
every test that did not pass, one line each: its folder, name and robot's failure message.
Several files (optionally LABEL=PATH): one table with a passed/total (%) column per file.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePath


@dataclass
class Result:
    folder: str
    name: str
    passed: bool
    message: str


def folder_of(source: str, depth: int) -> str:
    parts = PurePath(source).parts
    for i in range(len(parts) - 1):
        if parts[i] == "TP" and parts[i + 1] == "NGSI-LD":
            rest = parts[i + 2 :]
            break
    else:
        rest = parts[-2:]
    if rest and rest[-1].endswith(".robot"):
        rest = rest[:-1]
    return "/".join(rest[:depth]) or "."


def read(path: str, depth: int) -> list[Result]:
    root = ET.parse(path).getroot()
    results: list[Result] = []

    def walk(suite: ET.Element) -> None:
        source = suite.get("source", "")
        for test in suite.findall("test"):
            status = test.find("status")
            state = status.get("status") if status is not None else "FAIL"
            message = " ".join(((status.text if status is not None else "") or "").split())
            if state == "SKIP":
                message = f"[skipped] {message}"
            folder = folder_of(source, depth)
            results.append(Result(folder, test.get("name", ""), state == "PASS", message))
        for child in suite.findall("suite"):
            walk(child)

    for top in root.findall("suite"):
        walk(top)
    return results


def counts(results: list[Result]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        table[r.folder][0 if r.passed else 1] += 1
    return table


def pct(ok: int, total: int) -> str:
    return f"{100 * ok / total:.0f}" if total else "-"


def single(results: list[Result], show_failures: bool, width: int) -> None:
    table = counts(results)
    print("| folder | passed | failed | total | % |")
    print("|---|---:|---:|---:|---:|")
    all_ok = all_bad = 0
    for folder in sorted(table):
        ok, bad = table[folder]
        all_ok, all_bad = all_ok + ok, all_bad + bad
        print(f"| {folder} | {ok} | {bad} | {ok + bad} | {pct(ok, ok + bad)} |")
    total = all_ok + all_bad
    print(f"| **all** | **{all_ok}** | **{all_bad}** | **{total}** | **{pct(all_ok, total)}** |")
    if show_failures:
        failed = [r for r in results if not r.passed]
        print(f"\nFailed tests ({len(failed)}):\n")
        for r in failed:
            message = r.message if len(r.message) <= width else r.message[: width - 1] + "…"
            print(f"- {r.folder} | {r.name} | {message}")


def compare(runs: list[tuple[str, list[Result]]]) -> None:
    tables = [(label, counts(results)) for label, results in runs]
    folders = sorted({f for _, t in tables for f in t})
    print("| folder | " + " | ".join(label for label, _ in tables) + " |")
    print("|---|" + "---:|" * len(tables))
    for folder in folders:
        cells = []
        for _, t in tables:
            ok, bad = t.get(folder, [0, 0])
            cells.append(f"{ok}/{ok + bad} ({pct(ok, ok + bad)}%)" if ok + bad else "-")
        print(f"| {folder} | " + " | ".join(cells) + " |")
    cells = []
    for _, t in tables:
        ok = sum(v[0] for v in t.values())
        total = sum(v[0] + v[1] for v in t.values())
        cells.append(f"**{ok}/{total} ({pct(ok, total)}%)**")
    print("| **all** | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", nargs="+", help="output.xml, or LABEL=output.xml")
    parser.add_argument("--failures", action="store_true", help="list each failed test")
    parser.add_argument("--depth", type=int, default=3, help="folder parts under TP/NGSI-LD")
    parser.add_argument("--width", type=int, default=400, help="longest failure message shown")
    args = parser.parse_args(argv)
    runs = []
    for spec in args.outputs:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = PurePath(spec).parent.name or spec, spec
        runs.append((label, read(path, args.depth)))
    if len(runs) == 1:
        single(runs[0][1], args.failures, args.width)
    else:
        compare(runs)
        if args.failures:
            for label, results in runs:
                print(f"\n### {label}")
                single(results, True, args.width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
