//! The Rekor v1 **test double** as a process, for the demo: serves on a free
//! loopback port, writes the `trusted_root.json` naming its key to the path
//! given, prints its URL, and serves until killed. Never a production log.

fn main() -> std::io::Result<()> {
    let Some(root_path) = std::env::args().nth(1) else {
        eprintln!("usage: rekor_double TRUSTED_ROOT_OUT");
        std::process::exit(2);
    };
    let server = seed_testkit::rekor::RekorServer::start()?;
    // Written to a temporary name and renamed: a reader never sees half a file.
    let partial = format!("{root_path}.partial");
    std::fs::write(&partial, server.trusted_root().to_string())?;
    std::fs::rename(&partial, &root_path)?;
    println!("{}", server.url());
    loop {
        std::thread::park();
    }
}
