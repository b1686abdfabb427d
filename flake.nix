{
  description = "seed-eth: release trust for reproducible Nix builds, anchored on Ethereum";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    crane.url = "github:ipetkov/crane";
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
    }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;

      # The npm packages seed-chain's build.rs compiles the contracts with (solc-js 0.8.29,
      # OpenZeppelin, Safe), fetchable by Nix: see nix/npm-lock.nix.
      npm = import ./nix/npm-lock.nix {
        packageJson = builtins.fromJSON (builtins.readFile ./package.json);
        packageLock = builtins.fromJSON (builtins.readFile ./package-lock.json);
      };

      # What the Rust build reads: the workspace, the contracts and the compiler settings.
      src =
        let
          wanted = [
            "Cargo.toml"
            "Cargo.lock"
            "crates"
            "contracts"
            "foundry.toml"
            "package.json"
            "script/solc"
          ];
        in
        lib.cleanSourceWith {
          src = ./.;
          filter =
            path: type:
            let
              relative = lib.removePrefix (toString ./. + "/") (toString path);
            in
            builtins.any (
              w:
              relative == w
              || lib.hasPrefix "${w}/" relative
              || (type == "directory" && lib.hasPrefix "${relative}/" w)
            ) wanted;
        };

      seedEthFor =
        pkgs:
        let
          craneLib = crane.mkLib pkgs;
          nodeModules = pkgs.importNpmLock.buildNodeModules {
            inherit (npm) package packageLock;
            inherit (pkgs) nodejs;
            # As .npmrc: Safe's unused ethers peer is not installed (nor in the lock).
            npmFlags = [ "--legacy-peer-deps" ];
          };
          common = {
            inherit src version;
            pname = "seed-eth";
            strictDeps = true;
            cargoExtraArgs = "--locked --package seed-eth";
          };
          # Dependencies only: crane replaces the workspace's build scripts with dummies, so
          # this derivation is cached across source changes and needs no npm packages.
          cargoArtifacts = craneLib.buildDepsOnly common;
          canRunSeedEth = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
        in
        craneLib.buildPackage (
          common
          // {
            inherit cargoArtifacts;
            nativeBuildInputs = [
              pkgs.nodejs
              pkgs.installShellFiles
            ];
            # build.rs compiles contracts/ with script/solc (solc-js from node_modules) and
            # refuses any compiler but package.json's solc, so the bytecode is the forge
            # deployment's (docs/decisions.md, D-054).
            preBuild = ''
              ln -s ${nodeModules}/node_modules node_modules
              patchShebangs script/solc
            '';
            # The integration tests start anvil, a registry and Nix; they run in `make test`.
            doCheck = false;
            postInstall = lib.optionalString canRunSeedEth ''
              installShellCompletion --cmd seed-eth \
                --bash <($out/bin/seed-eth completions bash) \
                --zsh <($out/bin/seed-eth completions zsh) \
                --fish <($out/bin/seed-eth completions fish)
              $out/bin/seed-eth man --dir man
              installManPage man/*.1
            '';
            passthru = {
              inherit nodeModules;
              solcVersion = npm.package.dependencies.solc;
            };
            meta = {
              description = "Attest, verify and promote reproducible Nix seed images on Ethereum";
              homepage = "https://github.com/seed-eth/seed-eth";
              license = with lib.licenses; [
                mit
                asl20
              ];
              mainProgram = "seed-eth";
            };
          }
        );
    in
    {
      packages = forAllSystems (pkgs: rec {
        seed-eth = seedEthFor pkgs;
        default = seed-eth;
      });

      apps = forAllSystems (pkgs: rec {
        seed-eth = {
          type = "app";
          program = lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.seed-eth;
        };
        default = seed-eth;
      });

      checks = forAllSystems (
        pkgs:
        {
          inherit (self.packages.${pkgs.stdenv.hostPlatform.system}) seed-eth;
        }
        # lib.attestHook on a seed shaped as mkSeed's Linux output (store.squashfs inside).
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
          attest-hook = self.lib.attestHook {
            inherit pkgs;
            seed = pkgs.runCommand "example.seed" {
              passthru = {
                format = "squashfs";
                artifact = "store.squashfs";
              };
            } "mkdir $out && touch $out/store.squashfs";
            repository = "registry.example/org/project/seed";
          };
        }
      );

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages =
            with pkgs;
            [
              cargo
              rustc
              rustfmt
              clippy
              foundry
              nodejs
              skopeo
              squashfsTools
              gnumake
            ]
            ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [ pkgs.distribution ];
          # forge and build.rs use script/solc (solc-js 0.8.29 after `make setup`), never a
          # nixpkgs solc of another version.
        };
      });

      lib = {
        # A builder's attest step for a seed made with nix-seed's mkSeed, as a program:
        #
        #   apps.${system}.attest-seed = {
        #     type = "app";
        #     program = lib.getExe (seed-eth.lib.attestHook {
        #       inherit pkgs;
        #       seed = self.packages.${system}.seed;
        #       repository = "ghcr.io/org/project/seed";
        #     });
        #   };
        #
        # `nix run .#attest-seed -- --rpc-url URL --deployment FILE` pushes the seed's squashfs
        # as an image and attests it (SEED_ETH_PRIVATE_KEY, SEED_ETH_OCI_USERNAME and
        # SEED_ETH_OCI_PASSWORD from the environment); extra arguments go to `seed-eth attest`.
        # Linux seeds only: a macOS seed is a .dmg.zst that seed-eth cannot read (docs/ci.md).
        attestHook =
          {
            pkgs,
            seed,
            repository,
          }:
          let
            system = pkgs.stdenv.hostPlatform.system;
            artifact = seed.artifact or "store.squashfs";
          in
          assert lib.assertMsg (
            (seed.format or "squashfs") == "squashfs"
          ) "seed-eth.lib.attestHook: ${system} seeds are ${seed.format}; attest them with --manifest-digest and --no-content-check (docs/ci.md)";
          pkgs.writeShellApplication {
            name = "attest-seed";
            runtimeInputs = [ self.packages.${system}.seed-eth ];
            text = ''
              squashfs=${seed}/${artifact}
              digest=$(seed-eth seed push --squashfs "$squashfs" --system ${system} --to ${lib.escapeShellArg repository})
              seed-eth attest --image ${lib.escapeShellArg repository}"@$digest" \
                --squashfs "$squashfs" --system ${system} "$@"
            '';
          };
      };
    };
}
