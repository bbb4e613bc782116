//! The gRPC dispatch API.
pub mod pb {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("trunkgate.v1");
    /// Encoded descriptor set of proto/trunkgate/v1, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("trunkgate_v1_descriptor");
}
