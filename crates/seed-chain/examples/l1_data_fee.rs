//! What an OP-stack chain (Fjord and later) charges to post a transaction's bytes to L1, for the
//! gas benchmark (`script/gas-bench`, docs/benchmarks.md).
//!
//! Reads `label 0x<signed transaction>` lines on stdin (as `cast tx --raw` prints them) and writes
//! a JSON object per label, summed over its transactions, to the file named by the first
//! argument: the transactions' size, their FastLZ-compressed size, the Fjord size estimate and L1
//! data gas (op-alloy-flz, the estimate op-geth uses), and the fee at the prices given in the
//! remaining arguments: L1 base fee and blob base fee in gwei, then the chain's base-fee and
//! blob-base-fee scalars.

use std::io::BufRead;

fn main() {
    if let Err(message) = run() {
        eprintln!("l1_data_fee: {message}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [output, l1_base_fee_gwei, blob_base_fee_gwei, base_fee_scalar, blob_base_fee_scalar] =
        &args[..]
    else {
        return Err("usage: l1_data_fee OUTPUT L1_BASE_FEE_GWEI BLOB_BASE_FEE_GWEI BASE_FEE_SCALAR BLOB_BASE_FEE_SCALAR".into());
    };
    let number = |text: &String| {
        text.parse::<f64>()
            .map_err(|e| format!("{text} is not a number: {e}"))
    };
    let gwei = 1e9;
    let l1_base_fee = number(l1_base_fee_gwei)? * gwei;
    let blob_base_fee = number(blob_base_fee_gwei)? * gwei;
    let (base_fee_scalar, blob_base_fee_scalar) =
        (number(base_fee_scalar)?, number(blob_base_fee_scalar)?);
    // Fjord: fee = estimatedSize * (16 * baseFeeScalar * l1BaseFee + blobBaseFeeScalar * blobBaseFee) / 1e12,
    // with the size estimate scaled by 1e6 (op-geth core/types/rollup_cost.go).
    let fee_per_scaled_byte =
        (16.0 * base_fee_scalar * l1_base_fee + blob_base_fee_scalar * blob_base_fee) / 1e12;

    // Per label, summed over its transactions (a release voted in 12 transactions is one label).
    let mut totals: std::collections::BTreeMap<String, [f64; 6]> = Default::default();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        let Some((label, raw)) = line.trim().split_once(' ') else {
            continue;
        };
        let tx = alloy::hex::decode(raw.trim())
            .map_err(|e| format!("{label}: not a hex transaction: {e}"))?;
        let estimated = op_alloy_flz::tx_estimated_size_fjord(&tx);
        let total = totals.entry(label.to_owned()).or_default();
        total[0] += 1.0;
        total[1] += tx.len() as f64;
        total[2] += f64::from(op_alloy_flz::flz_compress_len(&tx));
        total[3] += op_alloy_flz::tx_estimated_size_fjord_bytes(&tx) as f64;
        total[4] += op_alloy_flz::data_gas_fjord(&tx) as f64;
        total[5] += estimated as f64 * fee_per_scaled_byte / gwei;
    }
    let results: serde_json::Map<String, serde_json::Value> = totals
        .into_iter()
        .map(|(label, [count, bytes, fastlz, estimated, gas, fee])| {
            // Sums of integers, exact in f64 at these sizes.
            let integer = |x: f64| x as u64;
            let value = serde_json::json!({
                "transactions": integer(count),
                "txBytes": integer(bytes),
                "fastlzBytes": integer(fastlz),
                "estimatedBytes": integer(estimated),
                "l1DataGas": integer(gas),
                "l1FeeGwei": (fee * 10.0).round() / 10.0,
            });
            (label, value)
        })
        .collect();
    let report = serde_json::json!({
        "prices": {
            "l1BaseFeeGwei": l1_base_fee / gwei,
            "blobBaseFeeGwei": blob_base_fee / gwei,
            "baseFeeScalar": base_fee_scalar,
            "blobBaseFeeScalar": blob_base_fee_scalar,
        },
        "transactions": results,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n";
    std::fs::write(output, text).map_err(|e| format!("writing {output}: {e}"))?;
    println!(
        "{:<24}{:>5}{:>9}{:>9}{:>11}{:>15}",
        "label", "txs", "bytes", "fastlz", "L1 gas", "L1 fee (gwei)"
    );
    for (label, r) in report["transactions"].as_object().into_iter().flatten() {
        let cell = |key: &str| r[key].to_string();
        println!(
            "{label:<24}{:>5}{:>9}{:>9}{:>11}{:>15}",
            cell("transactions"),
            cell("txBytes"),
            cell("fastlzBytes"),
            cell("l1DataGas"),
            cell("l1FeeGwei")
        );
    }
    Ok(())
}
