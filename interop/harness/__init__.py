"""Differential interop harness: Apache ZooKeeper (oracle) vs Corral."""
