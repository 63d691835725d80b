//! LSA lookups (SID <-> name) over the `lsarpc` named pipe.
