//! Pushes a small synthetic image (`ImageContent::synthetic(label)`) to a
//! repository and prints its digest: the "build output" of the demo's
//! builders (script/demo).
//!
//! Usage: `push_synthetic REGISTRY/REPO LABEL [PLAIN_HTTP_HOST]`

use seed_oci::{ImageContent, RegistryClient, Repository};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(repo), Some(label)) = (args.next(), args.next()) else {
        return Err("usage: push_synthetic REGISTRY/REPO LABEL [PLAIN_HTTP_HOST]".into());
    };
    let plain_http: Vec<String> = args.collect();
    let hosts: Vec<&str> = plain_http.iter().map(String::as_str).collect();
    let client = RegistryClient::plain_http(&hosts)?;
    let repo: Repository = repo.parse()?;
    let manifest = client
        .push_image(&repo, &ImageContent::synthetic(&label), None)
        .await?;
    println!("{}", manifest.digest());
    Ok(())
}
