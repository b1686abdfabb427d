#!/usr/bin/env python3
"""Turns the GasBench broadcast's receipts into target/bench/gas.json.

The measured transactions are the calls whose selector is one of
--selector (attest, attestBySig, attestBatch, finalise and EAS attest), in broadcast order; GasBench.s.sol wrote one label per
measured transaction in the same order, and the counts must match.
"""
import argparse
import json
import statistics
import sys

GOALS = {
    "attest_middle": ("<=", 55_000),
    "attest_batch3_total": ("<=", 140_000),
    "release_3x4_total": ("<=", 800_000),
    "finalise_by_sig_3x4": ("<=", 200_000),
    "finalise_by_sig_1x3": ("<=", 100_000),
    "eas_over_attest_middle": (">=", 5.8),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broadcast", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--selector", action="append", required=True, help="4-byte selector of a measured call")
    parser.add_argument("--finalised-topic", required=True)
    parser.add_argument("--anvil-version", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--tx-list", required=True, help="writes 'label hash' lines for the L1 data fee")
    args = parser.parse_args()

    with open(args.broadcast) as f:
        run = json.load(f)
    with open(args.labels) as f:
        labels = json.load(f)["labels"]

    receipts = {r["transactionHash"]: r for r in run["receipts"]}
    measured = [
        receipts[tx["hash"]]
        for tx in run["transactions"]
        if tx["transaction"].get("input", "")[:10] in args.selector
    ]
    if len(measured) != len(labels):
        sys.exit(f"gas_report: {len(measured)} measured transactions but {len(labels)} labels")
    for receipt in measured:
        if int(receipt["status"], 16) != 1:
            sys.exit(f"gas_report: transaction {receipt['transactionHash']} reverted")

    def gas(receipt):
        return int(receipt["gasUsed"], 16)

    def finalises(receipt):
        return any(log["topics"][0] == args.finalised_topic for log in receipt["logs"])

    release = [r for r, label in zip(measured, labels) if label == "release_3x4"]
    finalising = [r for r in release if finalises(r)]
    if len(finalising) != 1:
        sys.exit(f"gas_report: expected one finalising vote in release_3x4, found {len(finalising)}")
    non_finalising = [gas(r) for r in release if not finalises(r)]
    single = {label: gas(r) for r, label in zip(measured, labels) if label not in ("genesis", "release_3x4")}

    results = {
        "attest_first": gas(release[0]),
        "attest_middle": int(statistics.median(non_finalising)),
        "attest_finalising": gas(finalising[0]),
        "attest_by_sig": single["attest_by_sig"],
        "attest_batch3_total": single["attest_batch3_total"],
        "attest_batch3_floor": single["attest_batch3_floor"],
        "release_3x4_total": sum(gas(r) for r in release),
        "finalise_by_sig_3x4": single["finalise_by_sig_3x4"],
        "finalise_by_sig_1x3": single["finalise_by_sig_1x3"],
        "eas_attest": single["eas_attest"],
    }
    results["eas_over_attest_middle"] = round(results["eas_attest"] / results["attest_middle"], 2)
    goals = {}
    for name, (op, bound) in GOALS.items():
        value = results[name]
        goals[name] = {"goal": f"{op} {bound}", "met": value <= bound if op == "<=" else value >= bound}

    report = {
        "unit": "gas (receipt gasUsed)",
        "node": args.anvil_version,
        "release_3x4_votes": [gas(r) for r in release],
        "results": results,
        "goals": goals,
    }
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    # The transactions whose L1 data fee the benchmark compares: today's release and batch, and the
    # same releases by one finalise call.
    compared = ("release_3x4", "attest_batch3_total", "finalise_by_sig_3x4", "finalise_by_sig_1x3")
    with open(args.tx_list, "w") as f:
        for receipt, label in zip(measured, labels):
            if label in compared:
                f.write(f"{label} {receipt['transactionHash']}\n")

    print(f"{'entry point':<26}{'gasUsed':>12}  goal")
    for name, value in results.items():
        goal = goals.get(name)
        verdict = f"{goal['goal']} ({'met' if goal['met'] else 'MISSED'})" if goal else ""
        print(f"{name:<26}{value:>12}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
