"""Pictures of a run: image grids, GIFs and videos of them, loss plots, architecture
diagrams, and samples and walks through a trained generator's latent space."""
