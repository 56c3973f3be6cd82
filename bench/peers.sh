# Sourced by bench/instructions.sh and bench/run.sh (after VARIANTS is set):
# The peers (bench/peers, its own workspace and lock file) are built only
# when a `peer:` variant is asked for; PEERS=1 appends all five. A peer's
# ratio is against the bare server of its framework in the same run.
ALL_PEERS="peer:axum-prometheus peer:actix-web-prom peer:tracelayer-json peer:hand-rolled peer:otel-tower"
if [ "${PEERS:-0}" = 1 ]; then VARIANTS="$VARIANTS $ALL_PEERS"; fi
peer_server=
case " $VARIANTS " in *" peer:"*)
    cargo build --release --locked -q --manifest-path bench/peers/Cargo.toml
    peer_server=${CARGO_TARGET_DIR:-bench/peers/target}/release/peer-server ;;
esac
# The framework a variant's ratio is taken against.
base_of() { # $1 = framework, $2 = mode
    case "$1:$2" in peer:actix-web-prom) echo actix ;; peer:*) echo axum ;; *) echo "$1" ;; esac
}
