#!/usr/bin/env bash
# Regenerates examples/src/grpc/shop.v1.rs from shop.proto, so a build
# never needs protoc: needs protoc (Debian: protobuf-compiler) and cargo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/out"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "generate-shop-grpc"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
tonic-prost-build = "0.14"

[workspace]
TOML
cat > "$work/src/main.rs" <<RUST
fn main() {
    tonic_prost_build::configure()
        .build_transport(false)
        .out_dir("$work/out")
        .compile_protos(&["$here/shop.proto"], &["$here"])
        .unwrap();
}
RUST
cargo run -q --manifest-path "$work/Cargo.toml"
cp "$work/out/shop.v1.rs" "$here/../src/grpc/shop.v1.rs"
