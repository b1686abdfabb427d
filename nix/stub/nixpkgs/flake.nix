# A stand-in for nixpkgs, for `make flake-check` only: nixpkgs cannot be fetched on the machines
# this project is developed and tested on, so `nix flake check --no-build` runs against this,
# with `--override-input nixpkgs path:./nix/stub/nixpkgs`. It provides exactly the attributes
# flake.nix uses, as derivations that evaluate (never built), and asserts the shape of what
# flake.nix passes them: an npm lock whose every entry Nix can fetch, a crane build of the
# seed-eth package with its dependency artifacts, an app program in the store.
{
  outputs =
    { self }:
    let
      inherit (builtins)
        all
        attrNames
        concatStringsSep
        elem
        filter
        hasAttr
        isAttrs
        listToAttrs
        map
        stringLength
        substring
        ;
      startsWith = prefix: s: substring 0 (stringLength prefix) s == prefix;
      lib = rec {
        genAttrs =
          names: f:
          listToAttrs (
            map (name: {
              inherit name;
              value = f name;
            }) names
          );
        optionals = condition: list: if condition then list else [ ];
        optionalAttrs = condition: set: if condition then set else { };
        optionalString = condition: s: if condition then s else "";
        hasPrefix = startsWith;
        removePrefix =
          prefix: s:
          if startsWith prefix s then substring (stringLength prefix) (stringLength s) s else s;
        cleanSourceWith = { src, filter }: builtins.path {
          path = src;
          name = "source";
          inherit filter;
        };
        getExe = drv: "${drv}/bin/${drv.meta.mainProgram}";
        escapeShellArg = s: "'${s}'";
        assertMsg = condition: message: condition || throw message;
        licenses = {
          mit = "MIT";
          asl20 = "Apache-2.0";
        };
      };
      # A derivation that evaluates; building it fails loudly (this is not nixpkgs).
      stub =
        system: name: attrs:
        derivation {
          inherit name system;
          builder = "/bin/sh";
          args = [
            "-c"
            "echo 'the stub nixpkgs builds nothing; build with the real one' >&2; exit 1"
          ];
        }
        // attrs;
      pkgsFor =
        system:
        let
          mk = stub system;
          tool = name: mk name { };
        in
        {
          inherit lib;
          stdenv = {
            hostPlatform = {
              inherit system;
              isLinux = elem system [
                "x86_64-linux"
                "aarch64-linux"
              ];
              isDarwin = elem system [
                "x86_64-darwin"
                "aarch64-darwin"
              ];
            };
            buildPlatform.canExecute = _: true;
          };
          nodejs = tool "nodejs";
          installShellFiles = tool "install-shell-files";
          cargo = tool "cargo";
          rustc = tool "rustc";
          rustfmt = tool "rustfmt";
          clippy = tool "clippy";
          foundry = tool "foundry";
          skopeo = tool "skopeo";
          squashfsTools = tool "squashfs-tools";
          gnumake = tool "gnumake";
          distribution = tool "distribution";
          mkShell =
            { packages, ... }:
            assert all isAttrs packages;
            mk "nix-shell" { };
          writeShellApplication =
            {
              name,
              text,
              runtimeInputs ? [ ],
            }:
            assert all isAttrs runtimeInputs;
            mk name {
              meta.mainProgram = name;
              inherit text;
            };
          runCommand =
            name: env: _script:
            mk name (env.passthru or { });
          importNpmLock.buildNodeModules =
            {
              package,
              packageLock,
              nodejs,
              npmFlags,
            }:
            let
              entries = filter (key: key != "") (attrNames packageLock.packages);
              fetchable =
                key:
                let
                  entry = packageLock.packages.${key};
                in
                hasAttr "resolved" entry
                && startsWith "https://" entry.resolved
                && hasAttr "integrity" entry
                && startsWith "sha512-" entry.integrity;
              unfetchable = filter (key: !fetchable key) entries;
            in
            assert
              unfetchable == [ ]
              || throw "stub importNpmLock: not fetchable by Nix: ${concatStringsSep ", " unfetchable}";
            assert entries != [ ];
            assert elem "--legacy-peer-deps" npmFlags;
            mk "${package.name}-node-modules" { };
        };
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ] pkgsFor;
    };
}
