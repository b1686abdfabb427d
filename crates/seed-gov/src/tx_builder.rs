//! The Safe web app's Transaction Builder batch file, for governance signers who sign in the
//! app rather than with `seed-eth gov sign`.
//!
//! The file (`version` "1.0") holds the transactions the Safe will execute and a `meta`
//! block whose `checksum` the app verifies on import: the keccak-256 of the batch, with
//! `meta.name` set to null and `meta.checksum` left out, serialised the app's way (object keys
//! sorted and listed first as a JSON array, then each value followed by a comma; arrays and
//! scalars as JSON). The app proposes with its Safe's next nonce, so the hash the owners sign
//! there equals the proposal's `safeTxHash` only at the proposal's nonce: `gov show` gives it,
//! to compare.

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use serde_json::{json, Value};

use crate::{Proposal, SafeOperation};

/// The Transaction Builder version whose format this writes.
pub const TX_BUILDER_VERSION: &str = "1.18.0";

/// The batch file for `proposal`, created at `created_at_ms` (milliseconds since the epoch).
/// Refused (with the reason) for what the Transaction Builder cannot express: a DELEGATECALL
/// or gas refunds.
pub fn batch(proposal: &Proposal, created_at_ms: u64) -> Result<Value, String> {
    let tx = &proposal.safe_tx;
    if tx.operation != SafeOperation::Call {
        return Err("the proposal is a DELEGATECALL, which the Transaction Builder cannot make (and seed-eth never proposes)".to_owned());
    }
    if !(tx.safe_tx_gas.is_zero()
        && tx.base_gas.is_zero()
        && tx.gas_price.is_zero()
        && tx.gas_token.is_zero()
        && tx.refund_receiver.is_zero())
    {
        return Err(
            "the proposal sets gas refund fields, which the Transaction Builder cannot express"
                .to_owned(),
        );
    }
    let mut batch = json!({
        "version": "1.0",
        "chainId": proposal.chain_id.to_string(),
        "createdAt": created_at_ms,
        "meta": {
            "name": format!("seed-eth: {}", proposal.action.describe()),
            "description": format!(
                "Safe nonce {}; safeTxHash {} at that nonce (compare with the app and `seed-eth gov show`)",
                tx.nonce, proposal.safe_tx_hash
            ),
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": proposal.contracts.safe.to_checksum(None),
            "createdFromOwnerAddress": "",
        },
        "transactions": [{
            "to": tx.to.to_checksum(None),
            "value": tx.value.to_string(),
            "data": tx.data.to_string(),
            "contractMethod": null,
            "contractInputsValues": null,
        }],
    });
    let checksum = checksum(&batch);
    batch["meta"]["checksum"] = json!(checksum.to_string());
    Ok(batch)
}

/// The checksum the Transaction Builder computes for `batch` (its `meta.checksum` ignored).
pub fn checksum(batch: &Value) -> B256 {
    let mut hashed = batch.clone();
    if let Some(meta) = hashed.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("checksum");
        meta.insert("name".to_owned(), Value::Null);
    }
    let mut serialised = String::new();
    serialise(&hashed, &mut serialised);
    keccak256(serialised.as_bytes())
}

/// The app's serialisation: sorted keys first, then each value and a comma.
fn serialise(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                serialise(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted here, whatever order the map keeps (serde_json's `preserve_order`).
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            out.push_str(
                &Value::from(keys.iter().map(|k| k.as_str()).collect::<Vec<_>>()).to_string(),
            );
            for key in keys {
                serialise(&map[key], out);
                out.push(',');
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The transactions of a batch file, once its checksum verifies: `(to, value, data)` each.
pub fn transactions(batch: &Value) -> Result<Vec<(Address, U256, Bytes)>, String> {
    let claimed = batch["meta"]["checksum"]
        .as_str()
        .ok_or("the batch has no meta.checksum")?;
    let computed = checksum(batch);
    if claimed.parse::<B256>().ok() != Some(computed) {
        return Err(format!(
            "meta.checksum is {claimed}, but the batch hashes to {computed}"
        ));
    }
    batch["transactions"]
        .as_array()
        .ok_or("the batch has no transactions array")?
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            let field = |name: &str| {
                tx[name].as_str().ok_or(format!(
                    "transactions[{i}].{name} is missing or not a string"
                ))
            };
            Ok((
                field("to")?
                    .parse()
                    .map_err(|e| format!("transactions[{i}].to: {e}"))?,
                field("value")?
                    .parse()
                    .map_err(|e| format!("transactions[{i}].value: {e}"))?,
                field("data")?
                    .parse()
                    .map_err(|e| format!("transactions[{i}].data: {e}"))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app's serialisation, spelled out on a small object: keys sorted and listed first,
    /// each value followed by a comma, nested the same way.
    #[test]
    fn serialisation_is_the_apps() {
        let mut out = String::new();
        serialise(
            &json!({"b": [1, "x"], "a": {"d": null, "c": true}}),
            &mut out,
        );
        assert_eq!(out, r#"{["a","b"]{["c","d"]true,null,},[1,"x"],}"#);
    }

    #[test]
    fn a_tampered_batch_fails_its_checksum() {
        let mut batch = json!({
            "version": "1.0",
            "chainId": "1",
            "createdAt": 1,
            "meta": {"name": "x", "description": "", "txBuilderVersion": TX_BUILDER_VERSION,
                     "createdFromSafeAddress": "", "createdFromOwnerAddress": ""},
            "transactions": [{"to": Address::repeat_byte(1).to_checksum(None), "value": "0",
                              "data": "0x12", "contractMethod": null, "contractInputsValues": null}],
        });
        let sum = checksum(&batch);
        batch["meta"]["checksum"] = json!(sum.to_string());
        assert_eq!(transactions(&batch).unwrap().len(), 1);
        // The name is not covered (the app lets users rename a batch); everything else is.
        batch["meta"]["name"] = json!("renamed");
        assert!(transactions(&batch).is_ok());
        for (pointer, value) in [
            ("/transactions/0/data", json!("0x13")),
            ("/transactions/0/value", json!("1")),
            ("/chainId", json!("2")),
            ("/meta/createdFromSafeAddress", json!("0x00")),
        ] {
            let mut tampered = batch.clone();
            *tampered.pointer_mut(pointer).unwrap() = value;
            assert!(transactions(&tampered).is_err(), "{pointer}");
        }
        let mut missing = batch.clone();
        missing["meta"].as_object_mut().unwrap().remove("checksum");
        assert!(transactions(&missing).is_err());
    }
}
