//! placeholder: the ZAB engine is being written
