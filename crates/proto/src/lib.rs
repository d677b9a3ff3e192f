//! Generated protobuf messages and tonic clients/servers for faultline.
//!
//! The `.proto` sources live in the workspace's `proto/` folder; one package
//! per service, shared messages defined once.

#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

pub mod grpc {
    pub mod health {
        pub mod v1 {
            tonic::include_proto!("grpc.health.v1");
        }
    }
}

pub mod faultline {
    pub mod health {
        pub mod v1 {
            tonic::include_proto!("faultline.health.v1");
        }
    }
    pub mod dispatch {
        pub mod v1 {
            tonic::include_proto!("faultline.dispatch.v1");
        }
    }
    pub mod filter {
        pub mod v1 {
            tonic::include_proto!("faultline.filter.v1");
        }
    }
    pub mod results {
        pub mod v1 {
            tonic::include_proto!("faultline.results.v1");
        }
    }
    pub mod ingest {
        pub mod v1 {
            tonic::include_proto!("faultline.ingest.v1");
        }
    }
}
