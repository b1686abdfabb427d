//! `RpcDouble`: a JSON-RPC endpoint that forwards to a real node (anvil) and
//! behaves like the hosted endpoints and nodes that cannot run here. It is a
//! **test double**, named as one: everything it answers comes from the real
//! node, except what its [`Rules`] change, and each rule copies a behaviour
//! seen in the field:
//!
//! - `max_log_range`: `eth_getLogs` over more blocks than this is refused with
//!   a JSON-RPC error (QuickNode's and Alchemy's free tiers cap ranges at 5 and
//!   10 blocks; the message gives no range that would work);
//! - `max_log_results`: `eth_getLogs` returning more logs than this is refused
//!   as Infura does ("query returned more than N results. Try with this block
//!   range [0x…, 0x…]."), with a range that would work;
//! - `finalized_is_latest`: the `finalized` block tag answers the latest block,
//!   as Hardhat's node does;
//! - `lie`: an endpoint that lies ([`Lie`]): it alters `eth_call` results,
//!   passes off one release's logs, views and receipts as another's, drops
//!   logs, or serves another fork's blocks; with `lie_to`, only to clients
//!   whose URL path is that (providers key answers by the API key in the path,
//!   so one client can be shown another chain than everyone else).
//!
//! It speaks HTTP/1.1 with `Content-Length` bodies (what alloy's client
//! sends), one thread per connection, and counts the requests per method.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

use serde_json::{json, Value};

use crate::http::{read_request, write_response, Request};

/// How a lying endpoint lies. Each is something a compromised or buggy
/// provider can do without being caught by a client that trusts it.
#[derive(Debug, Clone)]
pub enum Lie {
    /// `eth_call` to `to` whose calldata starts with `selector` answers `result`
    /// (ABI-encoded) instead of what the node computed.
    Call {
        /// The contract called.
        to: String,
        /// The function selector, `0x` and 8 hex digits.
        selector: String,
        /// The answer, `0x`-prefixed hex.
        result: String,
    },
    /// A question about `fake` is asked about `real`, and every answer names
    /// `fake` wherever the node said `real` (32-byte values, lowercase hex
    /// without `0x`): a release the chain does not hold, shown with the
    /// ledger entry, stamp, logs and receipts of one it does.
    Alias {
        /// The value the chain holds.
        real: String,
        /// The value passed off in its place.
        fake: String,
    },
    /// Logs with this `topic0` and, among their other topics, `topic` are left
    /// out of `eth_getLogs` answers and of the receipts of
    /// `eth_getBlockReceipts`.
    DropLogs {
        /// The event signature.
        topic0: String,
        /// Another topic the log must carry (e.g. the commit).
        topic: String,
    },
    /// Blocks (`eth_getBlockByNumber`, `eth_getBlockByHash`) come from the node
    /// at `upstream`, another fork of the same chain id.
    Fork {
        /// The other node, `http://host:port`.
        upstream: String,
    },
}

/// What the double changes about the node's answers.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The widest `eth_getLogs` range answered, in blocks.
    pub max_log_range: Option<u64>,
    /// The most logs one `eth_getLogs` answer may hold.
    pub max_log_results: Option<usize>,
    /// Answer the `finalized` tag with the latest block.
    pub finalized_is_latest: bool,
    /// Lie.
    pub lie: Option<Lie>,
    /// Lie only to clients whose URL path is this (e.g. `/victim`); to all without it.
    pub lie_to: Option<String>,
}

/// A running double. Its listener serves for the rest of the test process.
#[derive(Debug)]
pub struct RpcDouble {
    addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl RpcDouble {
    /// Starts a double on a free loopback port, forwarding to `upstream`
    /// (`http://host:port`).
    pub fn start(upstream: &str, rules: Rules) -> std::io::Result<Self> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let shared = Arc::new((rules, counts.clone()));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = serve(stream, upstream, &shared.0, &shared.1);
                });
            }
        });
        Ok(Self { addr, counts })
    }

    /// The URL to give a client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests of `method` it received.
    pub fn requests(&self, method: &str) -> usize {
        self.counts
            .lock()
            .map_or(0, |c| c.get(method).copied().unwrap_or(0))
    }

    /// How many requests it received, of every method.
    pub fn total_requests(&self) -> usize {
        self.counts.lock().map_or(0, |c| c.values().sum())
    }

    /// The requests it received, by method.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Forgets the counts so far.
    pub fn reset_counts(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

type Counts = Mutex<HashMap<String, usize>>;

/// Serves the requests of one connection until the client closes it.
fn serve(
    stream: TcpStream,
    upstream: SocketAddr,
    rules: &Rules,
    counts: &Counts,
) -> std::io::Result<()> {
    // Answers go out as headers and body in two writes: without this, delayed ACKs hold each
    // answer ~40 ms and the double, not the client, would set the wall time.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(Request { body, target, .. }) = read_request(&mut reader)? {
        let lie = rules
            .lie
            .as_ref()
            .filter(|_| rules.lie_to.as_ref().is_none_or(|path| *path == target));
        let answer = match lie {
            Some(lie) => lying(lie, &body, upstream, rules, counts)?,
            None => {
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                handle(&request, &body, upstream, rules, counts)?
            }
        };
        write_response(&mut writer, 200, &[], &answer)?;
    }
    Ok(())
}

fn handle(
    request: &Value,
    body: &[u8],
    upstream: SocketAddr,
    rules: &Rules,
    counts: &Counts,
) -> std::io::Result<Vec<u8>> {
    let method = request["method"].as_str().unwrap_or("").to_owned();
    if let Ok(mut counts) = counts.lock() {
        *counts.entry(method.clone()).or_default() += 1;
    }
    let id = request["id"].clone();
    let refuse = |code: i64, message: String| {
        Ok(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
                .to_string()
                .into_bytes(),
        )
    };
    match method.as_str() {
        "eth_getLogs" => {
            let filter = &request["params"][0];
            let block = |field: &str| {
                filter[field]
                    .as_str()
                    .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            };
            if let (Some(max), Some(from), Some(to)) =
                (rules.max_log_range, block("fromBlock"), block("toBlock"))
            {
                if to.saturating_sub(from) + 1 > max {
                    return refuse(-32614, format!("eth_getLogs is limited to a {max} range"));
                }
            }
            let answer = forward(body, upstream)?;
            if let Some(max) = rules.max_log_results {
                let parsed: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                if let Some(logs) = parsed["result"].as_array().filter(|l| l.len() > max) {
                    let from = block("fromBlock").unwrap_or(0);
                    let first_excess = logs[max]["blockNumber"]
                        .as_str()
                        .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                        .unwrap_or(from);
                    let until = first_excess.saturating_sub(1).max(from);
                    return refuse(
                        -32005,
                        format!(
                            "query returned more than {max} results. Try with this block range [{from:#x}, {until:#x}]."
                        ),
                    );
                }
            }
            Ok(answer)
        }
        "eth_getBlockByNumber" if rules.finalized_is_latest => {
            let mut rewritten = request.clone();
            if rewritten["params"][0] == "finalized" {
                rewritten["params"][0] = json!("latest");
            }
            forward(rewritten.to_string().as_bytes(), upstream)
        }
        _ => forward(body, upstream),
    }
}

/// Answers `body` with `lie` told.
fn lying(
    lie: &Lie,
    body: &[u8],
    upstream: SocketAddr,
    rules: &Rules,
    counts: &Counts,
) -> std::io::Result<Vec<u8>> {
    let honest = |body: &[u8]| {
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        handle(&request, body, upstream, rules, counts)
    };
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let method = request["method"].as_str().unwrap_or("");
    match lie {
        Lie::Call {
            to,
            selector,
            result,
        } if method == "eth_call" => {
            let call = &request["params"][0];
            let data = call["input"]
                .as_str()
                .or(call["data"].as_str())
                .unwrap_or("");
            let addressed = call["to"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(to));
            if addressed && data.starts_with(selector.as_str()) {
                let answer = honest(body)?;
                let mut parsed: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                parsed["result"] = json!(result);
                return Ok(parsed.to_string().into_bytes());
            }
            honest(body)
        }
        Lie::Alias { real, fake } => {
            let asked = String::from_utf8_lossy(body).replace(fake.as_str(), real);
            let answer = honest(asked.as_bytes())?;
            Ok(String::from_utf8_lossy(&answer)
                .replace(real.as_str(), fake)
                .into_bytes())
        }
        Lie::DropLogs { topic0, topic } => {
            let answer = honest(body)?;
            let mut parsed: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            let keep = |log: &Value| {
                let topics: Vec<&str> = log["topics"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                !(topics.first() == Some(&topic0.as_str()) && topics.contains(&topic.as_str()))
            };
            match method {
                "eth_getLogs" => {
                    if let Some(logs) = parsed["result"].as_array_mut() {
                        logs.retain(keep);
                    }
                }
                "eth_getBlockReceipts" => {
                    for receipt in parsed["result"].as_array_mut().into_iter().flatten() {
                        if let Some(logs) = receipt["logs"].as_array_mut() {
                            logs.retain(keep);
                        }
                    }
                }
                _ => return Ok(answer),
            }
            Ok(parsed.to_string().into_bytes())
        }
        Lie::Fork { upstream: other }
            if method == "eth_getBlockByNumber" || method == "eth_getBlockByHash" =>
        {
            let other: SocketAddr = other
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            handle(&request, body, other, rules, counts)
        }
        _ => honest(body),
    }
}

/// Sends `body` to the node and returns its answer's body.
fn forward(body: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream)?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut reader = BufReader::new(stream);
    let mut length = None;
    let mut chunked = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }
    let mut answer = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            answer.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        answer.resize(length, 0);
        reader.read_exact(&mut answer)?;
    } else {
        reader.read_to_end(&mut answer)?;
    }
    Ok(answer)
}
