//! placeholder: corral-storage is being written
