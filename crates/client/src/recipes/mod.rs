//! Recipes built on the client, as kazoo and Curator offer them.
