# The npm dependencies the Rust build needs (seed-chain's build.rs compiles contracts/ with
# solc-js 0.8.29 and the OpenZeppelin and Safe sources), as a package.json and a
# package-lock.json that Nix can fetch: pure builtins, so `nix-instantiate --eval` checks it
# here against the real lock (make flake-check).
#
# The committed lock has no `resolved` fields (npm's omit-lockfile-registry-resolved), and both
# of nixpkgs' npm fetchers skip an entry without one. Each kept entry gets the registry's
# tarball URL, rebuilt from its name and version; its `integrity` (SHA-512) already pins the
# bytes, so the URL only says where to look. Only the dependency closure of `roots` is kept:
# the optional Foundry binaries, the audit tools and their native modules are left out.
{
  packageJson,
  packageLock,
  roots ? [
    "solc"
    "@openzeppelin/contracts"
    "@openzeppelin/contracts-upgradeable"
    "@safe-global/safe-contracts"
  ],
  registry ? "https://registry.npmjs.org",
}:
let
  inherit (builtins)
    attrNames
    filter
    genericClosure
    head
    listToAttrs
    map
    match
    ;
  packages = packageLock.packages;

  # "node_modules/a/node_modules/@s/b" -> "node_modules/a"; "node_modules/a" -> "".
  parentOf =
    key:
    let
      m = match "(.*)/node_modules/(@[^/]+/)?[^/]+" key;
    in
    if m == null then "" else head m;
  under = key: name: (if key == "" then "" else "${key}/") + "node_modules/${name}";

  # Node's resolution: the nearest node_modules/<name> from `key` up to the root, or null.
  resolve =
    key: name:
    if packages ? ${under key name} then
      under key name
    else if key == "" then
      null
    else
      resolve (parentOf key) name;
  required =
    key: name:
    let
      found = resolve key name;
    in
    if found == null then throw "npm-lock.nix: ${name} (needed by '${key}') is not in package-lock.json" else found;

  # What npm ci installs for an entry: its dependencies, and the required peers the lock holds
  # (a peer the lock leaves out, such as safe-contracts' ethers, npm ci leaves out too).
  dependenciesOf =
    key:
    let
      entry = packages.${key};
      peers = filter (peer: !((entry.peerDependenciesMeta or { }).${peer}.optional or false)) (
        attrNames (entry.peerDependencies or { })
      );
    in
    map (required key) (attrNames (entry.dependencies or { }))
    ++ filter (found: found != null) (map (resolve key) peers);

  closure = genericClosure {
    startSet = map (name: { key = required "" name; }) roots;
    operator = { key }: map (found: { key = found; }) (dependenciesOf key);
  };

  # "node_modules/x/node_modules/@s/b" -> "@s/b" (the entry's own `name` for npm aliases).
  nameOf = key: entry: entry.name or (head (match ".*node_modules/((@[^/]+/)?[^/]+)" key));
  tarball =
    name: version:
    let
      base = builtins.elemAt (match "(@[^/]+/)?([^/]+)" name) 1;
    in
    "${registry}/${name}/-/${base}-${version}.tgz";

  kept = listToAttrs (
    map (
      { key }:
      let
        entry = packages.${key};
      in
      {
        name = key;
        value = entry // {
          resolved = entry.resolved or (tarball (nameOf key entry) entry.version);
        };
      }
    ) closure
  );

  rootDependencies = listToAttrs (
    map (name: {
      inherit name;
      value = packageJson.dependencies.${name};
    }) roots
  );
  package = removeAttrs packageJson [ "optionalDependencies" ] // {
    dependencies = rootDependencies;
  };
in
{
  inherit package;
  packageLock = packageLock // {
    packages = kept // {
      "" = removeAttrs packages."" [ "optionalDependencies" ] // {
        dependencies = rootDependencies;
      };
    };
  };
}
