//! Generates the Rust code of the soberana.v1 contract from `proto/soberana/v1/*.proto` with
//! protoc (Debian's protobuf-compiler) at build time; nothing generated is checked in.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let directory = std::path::Path::new("soberana/v1");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(directory)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "proto")
        })
        .collect();
    files.sort();
    // The directory too: a new .proto file must regenerate the code.
    println!("cargo:rerun-if-changed={}", directory.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    tonic_prost_build::configure()
        .file_descriptor_set_path(
            std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("soberana_v1_descriptor.bin"),
        )
        .compile_protos(&files, &[std::path::PathBuf::from(".")])?;
    Ok(())
}
