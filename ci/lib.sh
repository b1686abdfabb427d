# What ci/attest and ci/verify share: reading INPUT_* variables and running seed-eth with
# the CI runner's output files. Sourced, not run.

fail() {
  echo "seed-eth action: $*" >&2
  exit 2
}

# The value of input NAME (`store-path` is INPUT_STORE_PATH), or nothing.
input() {
  local name="INPUT_${1//-/_}"
  name=${name^^}
  printf '%s' "${!name:-}"
}

require_input() {
  [ -n "$(input "$1")" ] || fail "the input ${1,,} is required: $2"
}

# Appends FLAG VALUE to args when input NAME is set.
optional_flag() {
  local value
  value=$(input "$1")
  [ -z "$value" ] || args+=("$2" "$value")
}

# Appends FLAG VALUE for each value in input NAME (separated by spaces, commas or lines).
list_flag() {
  local value values
  read -r -a values <<<"$(input "$1" | tr ',\n' '  ')"
  for value in "${values[@]}"; do
    args+=("$2" "$value")
  done
}

# A workflow passes every input, set or not: an empty one means "not given", so seed-eth falls
# back to its own default (seed-eth.toml, anonymous registry access, ...).
seed_eth_env() {
  local name
  for name in "${!SEED_ETH_@}"; do
    [ -n "${!name}" ] || unset "$name"
  done
}

# Runs the command with the runner's output and summary files, as the step's last act.
run_seed_eth() {
  export SEED_ETH_CI_OUTPUT=${SEED_ETH_CI_OUTPUT:-${GITHUB_OUTPUT:-}}
  export SEED_ETH_CI_SUMMARY=${SEED_ETH_CI_SUMMARY:-${GITHUB_STEP_SUMMARY:-}}
  seed_eth_env
  echo "seed-eth $*" >&2
  exec seed-eth "$@"
}
