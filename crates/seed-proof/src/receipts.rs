//! Block receipts as the trie commits to them: Ethereum's types, and the OP
//! stack's deposit and post-exec receipts (op-alloy), so that `--proofs` works
//! on OP-stack L2s such as Base and Optimism, whose every block starts with a
//! deposit.

use alloy::{
    consensus::ReceiptEnvelope, eips::Encodable2718, primitives::Log,
    rpc::types::TransactionReceipt,
};
use op_alloy_consensus::OpReceiptEnvelope;

/// One receipt of a block, in the encoding its receipts trie commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReceipt {
    /// An Ethereum receipt (types 0 to 4).
    Ethereum(ReceiptEnvelope),
    /// An OP-stack receipt (deposits, type 0x7e; post-exec, type 0x7d; and the Ethereum types
    /// the OP stack shares).
    Optimism(OpReceiptEnvelope),
}

impl BlockReceipt {
    /// A receipt as `eth_getBlockReceipts` serves it (JSON); the error says why it is neither
    /// an Ethereum nor an OP-stack receipt.
    pub fn from_rpc(receipt: serde_json::Value) -> Result<Self, String> {
        let ethereum = match serde_json::from_value::<TransactionReceipt>(receipt.clone()) {
            Ok(receipt) => return Ok(Self::Ethereum(receipt.inner.into_primitives_receipt())),
            Err(e) => e,
        };
        match serde_json::from_value::<OpReceiptEnvelope<alloy::rpc::types::Log>>(receipt) {
            Ok(receipt) => Ok(Self::Optimism(receipt.map_logs(|log| log.inner))),
            Err(op) => Err(format!(
                "a receipt that is neither Ethereum's ({ethereum}) nor the OP stack's ({op})"
            )),
        }
    }

    /// Its logs.
    pub fn logs(&self) -> &[Log] {
        match self {
            Self::Ethereum(receipt) => receipt.logs(),
            Self::Optimism(receipt) => receipt.logs(),
        }
    }

    /// Appends its EIP-2718 encoding (what the receipts trie holds).
    pub fn encode_2718(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ethereum(receipt) => receipt.encode_2718(out),
            Self::Optimism(receipt) => receipt.encode_2718(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn receipt(kind: &str) -> serde_json::Value {
        json!({
            "type": kind,
            "status": "0x1",
            "cumulativeGasUsed": "0x5208",
            "logs": [],
            "logsBloom": format!("0x{}", "00".repeat(256)),
            "transactionHash": format!("0x{}", "11".repeat(32)),
            "transactionIndex": "0x0",
            "blockHash": format!("0x{}", "22".repeat(32)),
            "blockNumber": "0x1",
            "gasUsed": "0x5208",
            "effectiveGasPrice": "0x1",
            "from": format!("0x{}", "33".repeat(20)),
            "to": format!("0x{}", "44".repeat(20)),
            "contractAddress": null,
        })
    }

    #[test]
    fn each_receipt_type_decodes_to_its_family() {
        assert!(matches!(
            BlockReceipt::from_rpc(receipt("0x2")),
            Ok(BlockReceipt::Ethereum(ReceiptEnvelope::Eip1559(_)))
        ));
        let mut deposit = receipt("0x7E");
        deposit["depositNonce"] = json!("0x7");
        deposit["depositReceiptVersion"] = json!("0x1");
        match BlockReceipt::from_rpc(deposit) {
            Ok(BlockReceipt::Optimism(OpReceiptEnvelope::Deposit(d))) => {
                assert_eq!(d.receipt.deposit_nonce, Some(7));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_receipts_are_refused() {
        let mut corpus = vec![
            json!(null),
            json!({}),
            json!([]),
            json!("0x02"),
            receipt("0x99"),
        ];
        for field in ["status", "cumulativeGasUsed", "logs", "logsBloom", "type"] {
            let mut broken = receipt("0x2");
            broken[field] = json!({"not": "a value"});
            corpus.push(broken);
        }
        let mut bad_log = receipt("0x2");
        bad_log["logs"] = json!([{"address": "0x12", "topics": [], "data": "0x"}]);
        corpus.push(bad_log);
        for case in corpus {
            let shown = case.to_string();
            assert!(BlockReceipt::from_rpc(case).is_err(), "{shown}");
        }
    }
}
