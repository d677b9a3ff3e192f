//! Compiles every `.proto` under the workspace's `proto/` with protox, a pure
//! Rust protobuf compiler, so building faultline never needs a system `protoc`.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "grpc/health/v1/health.proto",
        "faultline/health/v1/health_checker.proto",
        "faultline/ingest/v1/ingest.proto",
        "faultline/filter/v1/filter.proto",
        "faultline/dispatch/v1/dispatch.proto",
        "faultline/results/v1/results.proto",
    ];
    let paths: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
    for path in &paths {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let descriptors = protox::compile(&paths, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
