# A stand-in for crane, for `make flake-check` only (see ../nixpkgs/flake.nix): buildDepsOnly
# and buildPackage as derivations that evaluate, asserting what flake.nix must pass them.
{
  outputs =
    { self }:
    {
      mkLib = pkgs: {
        buildDepsOnly =
          args:
          assert args ? src && args ? pname && args ? version;
          derivation {
            name = "${args.pname}-deps-${args.version}";
            system = pkgs.stdenv.hostPlatform.system;
            builder = "/bin/sh";
            args = [ "-c" "exit 1" ];
          };
        buildPackage =
          args:
          assert args ? cargoArtifacts && args ? src && args ? meta;
          assert builtins.match ".*--locked.*" args.cargoExtraArgs != null;
          derivation {
            name = "${args.pname}-${args.version}";
            system = pkgs.stdenv.hostPlatform.system;
            builder = "/bin/sh";
            args = [ "-c" "exit 1" ];
            inherit (args) cargoArtifacts preBuild;
          }
          // args.passthru
          // {
            inherit (args) meta;
          };
      };
    };
}
