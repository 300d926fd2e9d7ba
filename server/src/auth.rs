//! Who is calling. Until credentials are configured, every caller is the anonymous principal of
//! the default tenant; request bodies and headers never choose the tenant or the subject.

use skillos_store::TenantId;

/// The verified identity a request runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub tenant: TenantId,
}

impl Principal {
    pub const ANONYMOUS: &'static str = "anonymous";

    pub fn anonymous() -> Self {
        Self {
            subject: Self::ANONYMOUS.to_owned(),
            tenant: TenantId::default_tenant(),
        }
    }
}

/// The principal of a gRPC request.
pub fn principal<T>(_request: &tonic::Request<T>) -> Principal {
    Principal::anonymous()
}
