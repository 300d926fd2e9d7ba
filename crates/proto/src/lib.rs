//! Generated code of the SkillOS protobuf contracts (`proto/`).
//!
//! `skillos::v1` is the public API, `skillos::runner::v1` the server <-> runner protocol.

pub mod skillos {
    pub mod v1 {
        #![allow(clippy::all, clippy::pedantic, missing_docs)]
        tonic::include_proto!("skillos.v1");
    }

    pub mod runner {
        pub mod v1 {
            #![allow(clippy::all, clippy::pedantic, missing_docs)]
            tonic::include_proto!("skillos.runner.v1");
        }
    }
}

pub mod codec;

pub use skillos::runner::v1 as runner_v1;
pub use skillos::v1;

/// Encoded `FileDescriptorSet` of every SkillOS proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/skillos_descriptor.bin"));
