//! The one Solidity compiler version the contracts are built with: package.json's `solc`
//! dependency (solc-js, which `script/solc` runs). build.rs refuses any other compiler, native
//! or not, because other bytecode would mean other contract addresses and code hashes than the
//! forge deployment and every other build of this tree (`verify` compares code hashes).
//! Shared with build.rs through `#[path]`, so the rule is tested once, here.

/// The pinned version from package.json's text: `dependencies.solc`, an exact `X.Y.Z`.
pub fn pinned_version(package_json: &str) -> Result<String, String> {
    let package: serde_json::Value =
        serde_json::from_str(package_json).map_err(|e| format!("package.json: {e}"))?;
    let pinned = package["dependencies"]["solc"]
        .as_str()
        .ok_or("package.json: no `solc` in `dependencies`")?;
    let exact = pinned.split('.').count() == 3
        && pinned
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !exact {
        return Err(format!(
            "package.json: solc must be pinned to an exact version (X.Y.Z), not '{pinned}'"
        ));
    }
    Ok(pinned.to_owned())
}

/// `Ok` when `found` (the compiler's `X.Y.Z`) is the pinned version, else the error to stop the
/// build with, naming the compiler and how to get the right one.
pub fn check(pinned: &str, found: &str, compiler: &str) -> Result<(), String> {
    if pinned == found {
        return Ok(());
    }
    Err(format!(
        "the Solidity compiler '{compiler}' is {found}, but the contracts are pinned to solc \
         {pinned} (package.json): another version compiles other bytecode than the forge \
         deployment. Run `make setup` (npm ci installs solc-js {pinned} for script/solc), or set \
         SEED_ETH_SOLC to a native solc {pinned}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_pin_is_package_jsons_exact_solc_version() {
        let repository = include_str!("../../../package.json");
        let pinned = pinned_version(repository).unwrap();
        assert_eq!(pinned.split('.').count(), 3);
        assert_eq!(
            pinned_version(r#"{"dependencies":{"solc":"0.8.29"}}"#).unwrap(),
            "0.8.29"
        );
        for loose in ["^0.8.29", "0.8", "0.8.x", "latest", "0.8.29-nightly"] {
            let text = format!(r#"{{"dependencies":{{"solc":"{loose}"}}}}"#);
            assert!(
                pinned_version(&text).unwrap_err().contains("exact version"),
                "{loose}"
            );
        }
        assert!(pinned_version(r#"{"dependencies":{}}"#).is_err());
        assert!(pinned_version("not json").is_err());
    }

    #[test]
    fn any_other_compiler_version_stops_the_build() {
        assert!(check("0.8.29", "0.8.29", "script/solc").is_ok());
        let error = check("0.8.29", "0.8.28", "/nix/store/x-solc/bin/solc").unwrap_err();
        assert!(
            error.contains("'/nix/store/x-solc/bin/solc' is 0.8.28"),
            "{error}"
        );
        assert!(error.contains("pinned to solc 0.8.29"), "{error}");
        assert!(check("0.8.29", "0.8.290", "solc").is_err());
    }
}
