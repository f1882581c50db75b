//! Recipes against both servers.
