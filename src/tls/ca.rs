//! The local certificate authority that signs rdptap's interception certificates.
