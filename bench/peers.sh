# Sourced by bench/instructions.sh and bench/run.sh (after VARIANTS is set):
# The peers (bench/peers, its own workspace and lock file) are built only
# when a `peer:` variant is asked for; PEERS=1 appends all five and the
# handler alone in the same binary (`peer:axum-bare`, `peer:actix-bare`):
# a peer's ratio is against those (the peers turn on more of axum's
# features than bench-server has), else against bench-server's bare.
ALL_PEERS="peer:axum-bare peer:actix-bare peer:axum-prometheus peer:actix-web-prom peer:tracelayer-json peer:hand-rolled peer:otel-tower"
if [ "${PEERS:-0}" = 1 ]; then VARIANTS="$VARIANTS $ALL_PEERS"; fi
peer_server=
case " $VARIANTS " in *" peer:"*)
    cargo build --release --locked -q --manifest-path bench/peers/Cargo.toml
    peer_server=${CARGO_TARGET_DIR:-bench/peers/target}/release/peer-server ;;
esac
# The bare server a variant's ratio is taken against: its key in `bare`.
bare_key() { # $1 = framework, $2 = mode; the key when this is a bare one
    case "$1:$2" in peer:axum-bare) echo peer-axum ;; peer:actix-bare) echo peer-actix ;; *:bare) echo "$1" ;; esac
}
base_of() { # $1 = framework, $2 = mode; $3 = "peers measured bare" (1 or 0)
    case "$1:$2" in
        peer:actix-*) [ "${3:-0}" = 1 ] && echo peer-actix || echo actix ;;
        peer:*) [ "${3:-0}" = 1 ] && echo peer-axum || echo axum ;;
        *) echo "$1" ;;
    esac
}
