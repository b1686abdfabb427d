//! The Rekor v1 **test double** as a process, for the demo: serves on a free
//! loopback port, writes the `trusted_root.json` naming its key to the path
//! given, prints its URL, and serves until killed. Never a production log.
//!
//! With a second path it also plays a **split view**: a second server for the
//! same log (same key and origin) that shows a tree with another first entry,
//! and writes `split-url`, `origin` and `vkey` (the log's C2SP verifier key,
//! for witness configurations) to that file.

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(root_path) = args.next() else {
        eprintln!("usage: rekor_double TRUSTED_ROOT_OUT [SPLIT_VIEW_OUT]");
        std::process::exit(2);
    };
    let server = seed_testkit::rekor::RekorServer::start()?;
    let split = match args.next() {
        Some(path) => {
            let split = server.fork()?;
            split
                .lock()
                .append(b"an entry only some are shown".to_vec(), 1_700_000_000);
            write_atomic(
                &path,
                &format!(
                    "split-url={}\norigin={}\nvkey={}\n",
                    split.url(),
                    seed_testkit::rekor::ORIGIN,
                    server.lock().vkey()
                ),
            )?;
            Some(split)
        }
        None => None,
    };
    write_atomic(&root_path, &server.trusted_root().to_string())?;
    println!("{}", server.url());
    let _keep_serving = split;
    loop {
        std::thread::park();
    }
}

/// Written to a temporary name and renamed: a reader never sees half a file.
fn write_atomic(path: &str, text: &str) -> std::io::Result<()> {
    let partial = format!("{path}.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}
