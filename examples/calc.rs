//! calc: a JIT-compiled RPN calculator (see calc.dasr).
include!(concat!(env!("OUT_DIR"), "/calc.rs"));
