{
  description = "seed-eth: release trust for reproducible Nix builds, anchored on Ethereum";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        seed-eth = pkgs.rustPlatform.buildRustPackage {
          pname = "seed-eth";
          version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;
          src = self;
          cargoLock.lockFile = ./Cargo.lock;
          cargoBuildFlags = [ "--package" "seed-eth" ];
          # seed-chain's build.rs compiles contracts/ (docs/decisions.md, D-021): it needs a
          # solc 0.8.29 (SEED_ETH_SOLC) and the Solidity libraries that `npm ci` puts in
          # node_modules. Until the npm dependencies are vendored into the Nix build, build
          # inside `nix develop` with `make`; this derivation is checked for syntax only.
          nativeBuildInputs = [ pkgs.nodejs ];
          SEED_ETH_SOLC = "${pkgs.solc}/bin/solc";
          # The integration tests start anvil, a registry and Nix itself; they
          # run in `make test`, not inside the sandboxed package build.
          cargoTestFlags = [ "--lib" ];
          meta = {
            description = "Attest, verify and promote reproducible Nix seed images on Ethereum";
            license = with pkgs.lib.licenses; [ mit asl20 ];
            mainProgram = "seed-eth";
          };
        };
        default = self.packages.${pkgs.system}.seed-eth;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.system}.seed-eth}/bin/seed-eth";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            cargo
            rustc
            rustfmt
            clippy
            foundry
            solc
            nodejs
            skopeo
            squashfsTools
            gnumake
          ] ++ pkgs.lib.optionals pkgs.stdenv.isLinux [ pkgs.distribution ];
        };
      });
    };
}
