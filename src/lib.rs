//! dasr
