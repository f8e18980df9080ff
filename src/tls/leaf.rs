//! Leaf certificates minted on demand by the local CA, cached per name.
