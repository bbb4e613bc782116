//! Compiles proto/trunkgate/v1 with the pure-Rust protox (no system protoc,
//! docs/performance.md §2a) into tonic/prost code and an encoded descriptor set for
//! server reflection, both under OUT_DIR only.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/trunkgate/v1/resources.proto",
        "proto/trunkgate/v1/events.proto",
        "proto/trunkgate/v1/services.proto",
    ];
    // proto/ holds trunkgate.v1 and the google/api annotation files it imports; protox
    // supplies the well-known google/protobuf types itself.
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("trunkgate_v1_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure().compile_fds(compiler.file_descriptor_set())?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
