//! placeholder: corral-client is being written
